"""One way to write a number, an interval, a duration, a status colour and a stage, at the edges too."""

from __future__ import annotations

import ast
import math

import pytest

import medcam_core.formatting as formatting
from medcam_core.formatting import (
    MISSING,
    NOT_AVAILABLE,
    OTHER_STATUS_STYLE,
    STAGE_LABELS,
    STATUS_STYLES,
    duration,
    estimate,
    interval,
    number,
    stage_label,
    status_style,
)
from medcam_core.vocabulary import Stage, Status


def test_numbers_and_missing_values() -> None:
    assert number(0.91234) == "0.912"
    assert number(0.9995) == "1.000" and number(1.0) == "1.000"
    assert number(0.5, 2) == "0.50" and number(3, 0) == "3"
    assert number(None) == MISSING == "–"
    assert number(None, missing=NOT_AVAILABLE) == "n/a"
    assert number(0.0) == "0.000"  # zero is a value, not a missing one


def test_intervals_in_each_style() -> None:
    assert interval([0.85, 0.96]) == "[0.850–0.960]"
    assert interval([0.973, 1.0]) == "[0.973–1.000]"  # an interval reaching 1.0
    assert interval([1.0, 1.0], 2) == "[1.00–1.00]"
    assert interval((0.85, 0.96), parens=True) == "(0.850–0.960)"
    assert interval([0.85, 0.96], parens=True, label="95 % CI") == "(95 % CI 0.850–0.960)"
    assert interval(None) == "" and interval([]) == ""


def test_a_value_with_its_interval() -> None:
    assert estimate(0.912, [0.85, 0.96]) == "0.912 [0.850–0.960]"
    assert estimate(0.991, [0.973, 1.0], bound_digits=2) == "0.991 [0.97–1.00]"  # the queue table's cell
    assert estimate(0.961, [0.911, 0.991], missing=NOT_AVAILABLE, parens=True, label=formatting.CI_LABEL) == (
        "0.961 (95 % CI 0.911–0.991)"
    )
    assert estimate(0.912, None) == "0.912"  # no interval: no trailing space, no brackets
    assert estimate(None, None) == MISSING
    assert estimate(None, None, missing=NOT_AVAILABLE, parens=True) == "n/a"
    assert estimate(None, [0.1, 0.2]) == "– [0.100–0.200]"


@pytest.mark.parametrize(
    ("seconds", "compact", "words"),
    [
        (0, "0s", "0 s"),
        (0.4, "0s", "0 s"),
        (35, "35s", "35 s"),
        (59.4, "59s", "59 s"),
        (59.6, "1m00s", "1 min 00 s"),  # rounded before it is split
        (70, "1m10s", "1 min 10 s"),
        (3599, "59m59s", "59 min 59 s"),
        (3600, "1h00m", "1 h 00 min"),
        (7500, "2h05m", "2 h 05 min"),  # from an hour on, the seconds are dropped
        (90061, "25h01m", "25 h 01 min"),  # no days: hours keep counting
    ],
)
def test_durations_under_a_minute_and_over_an_hour(seconds: float, compact: str, words: str) -> None:
    assert duration(seconds) == compact
    assert duration(seconds, words=True) == words


@pytest.mark.parametrize("seconds", [None, math.nan, math.inf, -math.inf])
def test_a_duration_that_is_not_one_is_missing(seconds: float | None) -> None:
    assert duration(seconds) == MISSING
    assert duration(seconds, words=True, missing=NOT_AVAILABLE) == "n/a"


def test_a_negative_span_is_zero() -> None:
    """A clock set back between a job's start and end is no reason for a minus sign."""
    assert duration(-5) == "0s" and duration(-3700, words=True) == "0 s"


def test_every_status_has_one_style_for_both_screens() -> None:
    assert set(STATUS_STYLES) == set(Status)
    assert status_style(Status.SKIPPED) == status_style("skipped") == "magenta"  # once yellow on the console
    assert status_style("done") == "green" and status_style(Status.FAILED) == "bold red"
    assert status_style("interrupted") == OTHER_STATUS_STYLE  # a stop status the vocabulary does not name
    assert len({status_style(s) for s in (Status.DONE, Status.FAILED, Status.SKIPPED, Status.CANCELLED)}) == 4


def test_every_stage_but_start_has_a_label() -> None:
    assert set(STAGE_LABELS) == set(Stage) - {Stage.START}
    assert stage_label(Stage.FIT) == stage_label("fit") == "training"
    assert stage_label("features") == "computing frozen features (once per dataset)"
    assert stage_label(Stage.START) == "start" and stage_label("something new") == "something new"
    assert isinstance(stage_label(Stage.START), str) and type(stage_label(Stage.START)) is str


def test_formatting_is_plain_text_for_the_engine() -> None:
    """The report and a model's README use it, so it must not need Rich or Textual."""
    tree = ast.parse(open(formatting.__file__, encoding="utf-8").read())
    roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert roots <= {"__future__", "math", "collections", "functools", "medcam_core"}
