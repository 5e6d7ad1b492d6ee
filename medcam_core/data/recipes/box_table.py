"""Lesion boxes from a table: a row per box, `x, y` its top-left corner, `width, height`, in the
original image's pixels. RSNA's label table holds them; a `folder` or `csv` dataset can name one of
its own (`boxes = "boxes.csv"`, columns path, x, y, width, height). Cells are untrusted text: a bad
number stops the job naming table, row and column; a path that is not an image of the dataset is
skipped with its reason.
"""

from __future__ import annotations

import math
from pathlib import Path

from medcam_core.config import DatasetSpec
from medcam_core.data.annotations import Box
from medcam_core.data.discovery import MISSING, OUTSIDE, Discovered, listed_file
from medcam_core.data.recipes.findings import quoted
from medcam_core.data.recipes.table import read_rows, table_problem
from medcam_core.errors import DataError

BOX = ("x", "y", "width", "height")
PATH = "path"


def parse_box(table: Path, line: int, row: dict[str, str], what: str = "box") -> Box:
    """The box of one row; DataError naming the cell when a value is not a number in range."""
    values = []
    for column in BOX:
        try:
            value = float(row[column])
        except ValueError:
            value = math.nan
        size = column in ("width", "height")
        if not math.isfinite(value) or value < 0 or (size and value == 0):
            raise DataError(
                f"{table}: row {line}, column {column!r}: expected a number {'> 0' if size else '≥ 0'} for a "
                f"{what}, got {quoted(row[column].strip())}"
            )
        values.append(value)
    return Box(*values)


def attach_boxes(spec: DatasetSpec, found: Discovered) -> None:
    """Give each sample the boxes `spec.boxes` lists for its file; rows naming no sample are counted."""
    problem = table_problem(spec.path, spec.boxes)
    if problem:
        raise DataError(f"dataset {spec.name!r}: boxes: {problem}")
    table = spec.path / spec.boxes
    boxes: dict[Path, list[Box]] = {}
    for line, row in read_rows(table, {name: "boxes column" for name in (PATH, *BOX)}):
        path = listed_file(spec.path, row[PATH].strip())
        if isinstance(path, str):
            reasons = {MISSING: f"listed in {table.name} but not on disk", OUTSIDE: OUTSIDE}
            found.skipped.append((f"{table}:{line}", reasons.get(path, path)))
            continue
        boxes.setdefault(path, []).append(parse_box(table, line, row))
    matched = 0
    for sample in found.samples:
        listed = boxes.pop(sample.path.resolve(), None)
        if listed:
            sample.boxes, matched = tuple(listed), matched + 1
    found.notes.append(f"lesion boxes from {table.name}: {matched} image(s)")
    if boxes:
        found.notes.append(f"{len(boxes)} image(s) of {table.name} are not among the dataset's images: boxes unused")
