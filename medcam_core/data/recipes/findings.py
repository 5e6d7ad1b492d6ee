"""Findings as columns of a label table (CheXpert, MIMIC-CXR): 1.0 present, 0.0 absent, −1.0 uncertain,
blank not mentioned (read as absent). Which chosen findings a row has, what the stated uncertainty
policy makes of it, and which views are kept — each counted, so the notes say what was left out and why.

Cells are untrusted text: anything but those four spellings stops the job naming table, row and column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from medcam_core.config import DatasetSpec
from medcam_core.errors import DataError
from medcam_core.vocabulary import Uncertain, View

CELLS = {"1": 1, "1.0": 1, "0": 0, "0.0": 0, "-1": -1, "-1.0": -1, "": 0}
SHOWN = 40  # characters of a table's text quoted in a message


class Finding(Enum):
    """The chosen findings of one row: one present; none present but one uncertain; or neither."""

    PRESENT = "present"
    UNCERTAIN = "uncertain"
    ABSENT = "absent"


@dataclass(frozen=True)
class Reading:
    finding: Finding
    negative: bool  # one of the `negative` columns is 1.0 (always true when `negative` is not given)


def quoted(text: str) -> str:
    return repr(text if len(text) <= SHOWN else text[:SHOWN] + "…")


class FindingTable:
    """One label table, its finding columns matched (in any case) to `positive` and `negative` on the
    first row read; a finding it lacks stops the job with the columns it has."""

    def __init__(self, table: Path, spec: DatasetSpec, other_columns: Collection[str]) -> None:
        self.table, self.spec, self.other_columns = table, spec, other_columns
        self.positive: tuple[str, ...] = ()
        self.negative: tuple[str, ...] = ()
        self.bound = False

    def _columns(self, header: Sequence[str], wanted: Sequence[str], option: str) -> tuple[str, ...]:
        by_key = {name.strip().casefold(): name for name in header}
        missing = [name for name in wanted if name.strip().casefold() not in by_key]
        if missing:
            findings = ", ".join(name for name in header if name not in self.other_columns) or "none"
            raise DataError(
                f"{self.table}: no finding column {', '.join(map(quoted, missing))} (from `{option}`); "
                f"its finding columns: {findings}"
            )
        return tuple(by_key[name.strip().casefold()] for name in wanted)

    def _cell(self, line: int, row: Mapping[str, str], column: str) -> int:
        value = row[column].strip()
        if value not in CELLS:
            raise DataError(
                f"{self.table}: row {line}, column {column!r}: expected 1.0, 0.0, -1.0 or blank, got {quoted(value)}"
            )
        return CELLS[value]

    def read(self, line: int, row: Mapping[str, str]) -> Reading:
        if not self.bound:
            self.positive = self._columns(list(row), self.spec.positive, "positive")
            self.negative = self._columns(list(row), self.spec.negative, "negative")
            self.bound = True
        values = [self._cell(line, row, column) for column in self.positive]
        finding = Finding.PRESENT if 1 in values else Finding.UNCERTAIN if -1 in values else Finding.ABSENT
        negative = not self.negative or any(self._cell(line, row, column) == 1 for column in self.negative)
        return Reading(finding, negative)


@dataclass
class Tally:
    """Applies the uncertainty policy and the view filter, counting every image either leaves out."""

    spec: DatasetSpec
    uncertain: int = 0  # images the policy acted on: left out, or counted positive / negative
    other: int = 0  # not positive and none of `negative` present
    views_out: Counter[str] = field(default_factory=Counter)  # frontal / lateral images not chosen
    other_views: Counter[str] = field(default_factory=Counter)  # images of any other view, by its value

    def label(self, reading: Reading) -> int | None:
        """1, 0, or None for an image left out; an uncertain image goes as `uncertain` says."""
        if reading.finding is Finding.PRESENT:
            return 1
        uncertain = reading.finding is Finding.UNCERTAIN
        if uncertain and self.spec.uncertain is not Uncertain.ZEROS:
            self.uncertain += 1
            return 1 if self.spec.uncertain is Uncertain.ONES else None
        if not reading.negative:
            self.other += 1
            return None
        self.uncertain += uncertain
        return 0

    def keeps(self, view: View | None, value: str) -> bool:
        """Whether an image of `view` (None: neither frontal nor lateral, `value` as the table says) is kept."""
        if View.ALL in self.spec.views or view in self.spec.views:
            return True
        if view is None:
            self.other_views[value.strip()[:SHOWN] or "blank"] += 1
        else:
            self.views_out[view.value] += 1
        return False

    def notes(self) -> list[str]:
        spec, notes = self.spec, []
        chosen = ", ".join(spec.views)
        for view, n in sorted(self.views_out.items()):
            notes.append(f"{n} {view} images left out (views = {chosen})")
        if self.other_views:
            top = ", ".join(f"{name} {n}" for name, n in self.other_views.most_common(3))
            more = ", …" if len(self.other_views) > 3 else ""
            notes.append(f"{self.other_views.total()} images of other views ({top}{more}) left out (views = {chosen})")
        if self.uncertain:
            what = {
                Uncertain.IGNORE: 'left out (uncertain = "ignore"; "ones" or "zeros" would keep them)',
                Uncertain.ONES: 'counted positive (uncertain = "ones")',
                Uncertain.ZEROS: 'counted negative (uncertain = "zeros")',
            }[spec.uncertain]
            notes.append(f"{self.uncertain} images uncertain (-1) for {' or '.join(spec.positive)}: {what}")
        if self.other:
            notes.append(
                f"{self.other} images without {' or '.join(spec.positive)} = 1 nor {' or '.join(spec.negative)} = 1 "
                "left out (neither positive nor negative)"
            )
        return notes
