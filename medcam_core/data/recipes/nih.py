"""NIH ChestX-ray14 as downloaded: the Data_Entry CSV, images in images_0xx/images/, official split lists.

Findings are `|`-separated names; a row is positive when any finding is in `positive`, negative
when none is and (if `negative` is given) one of its findings is listed there.
"""

from __future__ import annotations

from pathlib import Path

from medcam_core.config import DatasetSpec
from medcam_core.data.discovery import Discovered, Sample, is_hidden, regular_files
from medcam_core.data.recipes.table import read_rows
from medcam_core.errors import DataError

COLUMNS = ["Image Index", "Finding Labels", "Patient ID"]


def _entry_table(root: Path) -> Path:
    tables = sorted(root.glob("Data_Entry_2017*.csv"))
    if not tables:
        raise DataError(f"no Data_Entry_2017.csv in {root} (the NIH ChestX-ray14 label table)")
    return tables[0]


def _image_index(root: Path, skipped: list[tuple[str, str]]) -> dict[str, Path]:
    """Every PNG by file name, wherever the archives were unpacked (images_001/images/, images/, …)."""
    index: dict[str, Path] = {}
    for path in regular_files(root, skipped):
        if path.suffix == ".png" and not is_hidden(path.relative_to(root)):
            index.setdefault(path.name, path)
    return index


def _official_split(root: Path) -> dict[str, str]:
    split: dict[str, str] = {}
    for file, name in (("train_val_list.txt", "train"), ("test_list.txt", "test")):
        if (root / file).is_file():
            for line in (root / file).read_text(encoding="utf-8").split():
                split[line.strip()] = name
    return split


def _label(findings: set[str], spec: DatasetSpec) -> int | None:
    if findings & {p.casefold() for p in spec.positive}:
        return 1
    if not spec.negative or findings & {n.casefold() for n in spec.negative}:
        return 0
    return None


def find_nih(spec: DatasetSpec) -> Discovered:
    table = _entry_table(spec.path)
    found = Discovered([], classes=[*spec.positive, *spec.negative])
    images = _image_index(spec.path, found.skipped)
    official = _official_split(spec.path)
    absent = outside_lists = unused = 0
    for _, row in read_rows(table, {column: "column" for column in COLUMNS}):
        name = row["Image Index"].strip()
        findings = {f.strip().casefold() for f in row["Finding Labels"].split("|") if f.strip()}
        label = _label(findings, spec)
        if label is None:
            unused += 1
            continue
        if name not in images:
            absent += 1
            continue
        split = official.get(name, "") if official else ""
        if official and not split:
            outside_lists += 1
            continue
        patient = row["Patient ID"].strip().lstrip("0") or "0"
        found.samples.append(Sample(images[name], label, f"patient{patient}", split))
    if absent:
        found.notes.append(f"{absent} labelled rows of {table.name} have no image on disk (a partial download?)")
    if outside_lists:
        found.notes.append(f"{outside_lists} images in neither train_val_list.txt nor test_list.txt not used")
    if unused:
        found.notes.append(f"{unused} images with other findings not used (neither positive nor negative)")
    if official:
        found.notes.append("official patient-disjoint split: test_list.txt is the test split")
    return found
