"""How a number, an interval, a duration, a status and a stage are written, on a screen and in a file.

One place for all of them, so the queue table, the model browser, the console, STATUS_REPORT.md and a
model's README.md say the same thing the same way. Plain text only (no Rich, no Textual): the
engine's files need it too. Screens write a missing value as `MISSING`, documents as `NOT_AVAILABLE`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

from medcam_core.vocabulary import Stage, Status

MISSING = "–"
NOT_AVAILABLE = "n/a"
CI_LABEL = "95 % CI"


def number(value: float | None, digits: int = 3, missing: str = MISSING) -> str:
    """`0.912`; `missing` for None."""
    return missing if value is None else f"{value:.{digits}f}"


def interval(bounds: Sequence[float] | None, digits: int = 3, *, parens: bool = False, label: str = "") -> str:
    """`[0.850–0.960]`, or `(0.850–0.960)` with `parens`, `(95 % CI 0.850–0.960)` with a label too;
    "" without bounds."""
    if not bounds:
        return ""
    low, high = bounds
    opening, closing = "()" if parens else "[]"
    prefix = f"{label} " if label else ""
    return f"{opening}{prefix}{low:.{digits}f}–{high:.{digits}f}{closing}"


def estimate(
    value: float | None,
    bounds: Sequence[float] | None,
    digits: int = 3,
    *,
    bound_digits: int | None = None,
    missing: str = MISSING,
    parens: bool = False,
    label: str = "",
) -> str:
    """A value and its interval, `0.912 [0.850–0.960]`; the value alone without bounds."""
    shown = interval(bounds, digits if bound_digits is None else bound_digits, parens=parens, label=label)
    return f"{number(value, digits, missing)} {shown}" if shown else number(value, digits, missing)


_UNITS = {False: ("s", "m", "h", ""), True: (" s", " min", " h", " ")}


def duration(seconds: float | None, *, words: bool = False, missing: str = MISSING) -> str:
    """`35s`, `1m10s`, `2h05m`; with `words` `35 s`, `1 min 10 s`, `2 h 05 min` (documents).

    Whole seconds, rounded; the seconds are dropped from an hour on. A negative span (a clock set
    back) is 0 s; None, NaN and infinity are `missing`.
    """
    if seconds is None or not math.isfinite(seconds):
        return missing
    sec_unit, min_unit, hour_unit, gap = _UNITS[words]
    minutes, sec = divmod(max(0, int(round(seconds))), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}{hour_unit}{gap}{minutes:02d}{min_unit}"
    if minutes:
        return f"{minutes}{min_unit}{gap}{sec:02d}{sec_unit}"
    return f"{sec}{sec_unit}"


# Rich style names (the console and the TUI both speak them); one table, so a status has one colour.
STATUS_STYLES: dict[Status, str] = {
    Status.QUEUED: "cyan",
    Status.RUNNING: "bold blue",
    Status.DONE: "green",
    Status.FAILED: "bold red",
    Status.CANCELLED: "yellow",
    Status.SKIPPED: "magenta",
}
OTHER_STATUS_STYLE = "yellow"  # a stop the table does not name: `interrupted` (the job re-queues)


def status_style(status: str) -> str:
    """The style of a status, given as a `Status` or as the plain text an event carries."""
    return STATUS_STYLES.get(status, OTHER_STATUS_STYLE)  # type: ignore[call-overload]


STAGE_LABELS: dict[Stage, str] = {
    Stage.LOAD: "decoding images",
    Stage.BUILD: "building DenseNet121",
    Stage.FEATURES: "computing frozen features (once per dataset)",
    Stage.FIT: "training",
    Stage.EVALUATE: "evaluating on the test split",
    Stage.EXPLAIN: "Grad-CAM: localisation figures and example heatmaps",
    Stage.SAVE: "saving models and results",
    Stage.EXTERNAL: "validating on other datasets",
}


def stage_label(stage: str) -> str:
    """What a stage is doing, in words; a stage without a label (`start`) as itself."""
    return STAGE_LABELS.get(stage, str(stage))  # type: ignore[call-overload]


# a document writes a missing figure as n/a, a figure with its interval as 0.961 (95 % CI 0.911–0.991)
doc_number = partial(number, missing=NOT_AVAILABLE)
doc_estimate = partial(estimate, missing=NOT_AVAILABLE, parens=True, label=CI_LABEL)
doc_duration = partial(duration, words=True, missing=NOT_AVAILABLE)
