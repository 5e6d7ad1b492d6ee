"""MURA v1.1 as downloaded: image and study tables per split; the official `valid` is the test split.

Paths in the tables start with `MURA-v1.1/`; they are resolved inside the dataset folder, never
outside it. Labels come from `*_labeled_studies.csv`, else from the `studyK_positive` folder name.
"""

from __future__ import annotations

import csv
from pathlib import Path

from medcam_core.config import DatasetSpec
from medcam_core.data.discovery import IMAGE_SUFFIXES, MISSING, Discovered, Sample, image_files, is_hidden, listed_file
from medcam_core.data.labels import LabelError, parse_label
from medcam_core.errors import DataError

SPLITS = {"train": "train", "valid": "test"}


def _base(root: Path) -> Path:
    for base in (root, root / "MURA-v1.1"):
        if (base / "train").is_dir() or (base / "train_image_paths.csv").is_file():
            return base
    raise DataError(f"{root} is not MURA-v1.1: no train/ or train_image_paths.csv in it or in MURA-v1.1/")


def _relative(line: str, base: Path) -> str:
    parts = Path(line.strip()).parts
    return str(Path(*parts[1:])) if parts and parts[0] == base.name else line.strip()


def _table(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [row for row in csv.reader(handle) if row and row[0].strip()]


def _study_labels(base: Path, split: str) -> dict[str, int]:
    table = base / f"{split}_labeled_studies.csv"
    if not table.is_file():
        return {}
    labels = {}
    for line, row in enumerate(_table(table), start=1):
        try:
            label = parse_label(row[1] if len(row) > 1 else "")
        except LabelError as exc:
            raise DataError(f"{table}: row {line}: {exc}") from None
        if label is not None:
            labels[_relative(row[0], base).rstrip("/")] = label
    return labels


def _images(base: Path, split: str, skipped: list[tuple[str, str]]) -> list[Path]:
    table = base / f"{split}_image_paths.csv"
    if not table.is_file():
        return image_files(base / split, skipped) if (base / split).is_dir() else []
    paths = []
    for row in _table(table):
        relative = _relative(row[0], base)
        path = listed_file(base, relative)
        if isinstance(path, str):
            skipped.append((row[0], f"listed in {table.name} but not on disk" if path == MISSING else path))
        elif is_hidden(Path(relative)) or path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((str(path), "hidden file" if is_hidden(Path(relative)) else "not an image file"))
        else:
            paths.append(path)
    return paths


def _part(name: str) -> str:
    name = name.strip().upper()
    return name if name.startswith("XR_") else f"XR_{name}"


def find_mura(spec: DatasetSpec) -> Discovered:
    base = _base(spec.path)
    parts = {_part(p) for p in spec.body_parts}
    found = Discovered([], classes=["positive", "negative"])
    seen_parts: set[str] = set()
    for split, target in SPLITS.items():
        labels = _study_labels(base, split)
        for path in _images(base, split, found.skipped):
            rel = path.relative_to(base).parts
            if len(rel) < 5:
                found.skipped.append((str(path), "not in <split>/XR_<PART>/patient<N>/study<K>_<label>/"))
                continue
            part, patient, study = rel[1], rel[2], rel[3]
            seen_parts.add(part)
            if parts and part not in parts:
                continue
            label = labels.get(str(Path(*rel[:4])))
            if label is None:
                label = 1 if study.endswith("_positive") else 0 if study.endswith("_negative") else None
            if label is None:
                found.skipped.append((str(path), "no label: study not in the table nor named _positive/_negative"))
                continue
            found.samples.append(Sample(path, label, patient, target))
    unknown = sorted(parts - seen_parts)
    if unknown:
        raise DataError(f"body part(s) {unknown} not found in {base}; found: {sorted(seen_parts) or 'none'}")
    found.notes.append("official valid/ is the test split; validation is carved from train by patient")
    return found
