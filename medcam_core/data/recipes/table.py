"""The generic CSV recipe: one row per image, with path and label columns (patient and split optional).

The table and its cells are untrusted text: the table must be a CSV/TSV file inside the dataset
folder, an error about it never quotes its content (any file could be named), and a row whose
path cannot be read is skipped with the reason.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from medcam_core.config import DatasetSpec
from medcam_core.data.discovery import (
    FILE,
    IMAGE_SUFFIXES,
    MISSING,
    OUTSIDE,
    Discovered,
    Sample,
    entry_kind,
    is_hidden,
    listed_file,
    split_name,
)
from medcam_core.data.labels import LabelError, parse_label
from medcam_core.errors import DataError

TABLE_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")


def table_problem(root: Path, table: str) -> str | None:
    """Why `table` cannot be the label table of the dataset in `root`, or None when it can."""
    if "\0" in table:
        return "expected a file name, got one holding a NUL byte"
    if not table.lower().endswith(TABLE_SUFFIXES):
        return f"expected a {', '.join(TABLE_SUFFIXES[:-1])} or {TABLE_SUFFIXES[-1]} file, got {table!r}"
    try:
        path = (root / table).resolve()
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return f"{table!r} cannot be read as a table: symlink loop"
    if not path.is_relative_to(root.resolve()):
        return f"expected a table inside the dataset folder {root}, got {table!r}"
    kind = entry_kind(path)
    if kind == MISSING:
        return f"{table!r} not found in {root}"
    return None if kind == FILE else f"{table!r} cannot be read as a table: {kind}"


def _open(table: Path) -> IO[str]:
    if table.name.lower().endswith(".gz"):
        return gzip.open(table, "rt", newline="", encoding="utf-8-sig")
    return table.open(newline="", encoding="utf-8-sig")


def read_rows(table: Path, columns: dict[str, str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) with every cell as text; `columns` maps each needed header to the option naming it.

    DataError when a needed column is absent or the file is not a table; it names the file and what
    was expected, never what the file holds.
    """
    kind = entry_kind(table)
    if kind != FILE:
        raise DataError(f"table not found: {table}" if kind == MISSING else f"{table}: {kind}")
    delimiter = "\t" if table.name.lower().endswith((".tsv", ".tsv.gz")) else ","
    line = 0
    try:
        with _open(table) as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            header = set(reader.fieldnames or [])
            absent = [f"{option} {name!r}" for name, option in columns.items() if name not in header]
            if absent:
                raise DataError(f"{table}: is not a CSV table with a header row naming {' and '.join(absent)}")
            for row in reader:
                line = reader.line_num
                yield line, {k: (v or "") for k, v in row.items() if isinstance(k, str)}
    except UnicodeDecodeError:
        raise DataError(f"{table}: is not UTF-8 text (from line {line + 1})") from None
    except (gzip.BadGzipFile, EOFError, zlib.error):
        raise DataError(f"{table}: is not a readable gzip file") from None
    except csv.Error as exc:
        raise DataError(f"{table}: is not a readable CSV table (from line {line + 1}: {exc})") from None


def find_table(spec: DatasetSpec) -> Discovered:
    problem = table_problem(spec.path, spec.table)
    if problem:
        raise DataError(f"dataset {spec.name!r}: table: {problem}")
    table = spec.path / spec.table
    columns = {spec.path_column: "path_column", spec.label_column: "label_column"}
    for column, option in ((spec.patient_column, "patient_column"), (spec.split_column, "split_column")):
        if column:
            columns[column] = option
    found = Discovered([])
    for line, row in read_rows(table, columns):
        where = f"{table}:{line}"
        try:
            label = parse_label(row[spec.label_column], spec.positive, spec.negative)
        except LabelError as exc:
            raise DataError(f"{table}: row {line}, column {spec.label_column!r}: {exc}") from None
        relative = row[spec.path_column].strip()
        if label is None or not relative:
            found.skipped.append((where, "blank label" if label is None else "blank path"))
            continue
        path = listed_file(spec.path, relative)
        if isinstance(path, str):
            reasons = {MISSING: f"listed in {table.name} but not on disk", OUTSIDE: f"{OUTSIDE}: {relative}"}
            found.skipped.append((where, reasons.get(path, path)))
        elif is_hidden(Path(relative)) or path.suffix.lower() not in IMAGE_SUFFIXES:
            found.skipped.append((str(path), f"not an image file ({path.name})"))
        else:
            split = ""
            if spec.split_column and row[spec.split_column].strip():
                split = split_name(row[spec.split_column]) or ""
                if not split:
                    raise DataError(
                        f"{table}: row {line}, column {spec.split_column!r}: expected train, val or test, "
                        f"got {row[spec.split_column]!r}"
                    )
            patient = row[spec.patient_column].strip() if spec.patient_column else ""
            found.samples.append(Sample(path, label, patient or str(path), split))
    return found
