"""The generic CSV recipe: one row per image, with path and label columns (patient and split optional)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from medcam_core.config import DatasetSpec
from medcam_core.discovery import IMAGE_SUFFIXES, Discovered, Sample, inside, is_hidden, split_name
from medcam_core.errors import DataError
from medcam_core.labels import LabelError, parse_label


def read_rows(table: Path, columns: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) with every cell as text; DataError when a needed column is absent."""
    if not table.is_file():
        raise DataError(f"table not found: {table}")
    with table.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h for h in (reader.fieldnames or []) if h]
        absent = [c for c in columns if c not in header]
        if absent:
            raise DataError(f"{table}: column(s) {absent} not in the header; found: {header}")
        for row in reader:
            yield reader.line_num, {k: (v or "") for k, v in row.items() if isinstance(k, str)}


def find_table(spec: DatasetSpec) -> Discovered:
    table = spec.path / spec.table
    columns = [spec.path_column, spec.label_column, *(c for c in (spec.patient_column, spec.split_column) if c)]
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
        path = inside(spec.path, relative)
        if path is None:
            found.skipped.append((where, f"path outside the dataset folder: {relative}"))
        elif not path.is_file():
            found.skipped.append((str(path), f"listed in {table.name} but not on disk"))
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
