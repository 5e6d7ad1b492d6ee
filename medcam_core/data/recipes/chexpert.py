"""CheXpert v1.0 as downloaded (the small release or the full-size one): `train.csv` and `valid.csv`,
one row per image, findings as columns. The official `valid.csv` is the untouched test split;
validation is carved from train by patient (`patientNNNNN` in the path).

`Path` cells start with the release folder's name; they are resolved inside that folder, never
outside it, so the dataset path may be the release folder or its parent.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from medcam_core.config import DatasetSpec
from medcam_core.data.discovery import (
    FILE,
    IMAGE_SUFFIXES,
    MISSING,
    Discovered,
    Sample,
    entry_kind,
    is_hidden,
    listed_file,
)
from medcam_core.data.recipes.findings import FindingTable, Tally
from medcam_core.data.recipes.table import read_rows
from medcam_core.errors import DataError
from medcam_core.vocabulary import View

RELEASES = ("CheXpert-v1.0-small", "CheXpert-v1.0")
TABLES = {"train.csv": "train", "valid.csv": "test"}
PATH, VIEW = "Path", "Frontal/Lateral"
NOT_FINDINGS = frozenset({PATH, VIEW, "Sex", "Age", "AP/PA"})
VIEWS = {"frontal": View.FRONTAL, "lateral": View.LATERAL}
PATIENT_RE = re.compile(r"(patient\d+)")


def release_folder(root: Path) -> Path:
    """`root` when it holds train.csv, else the one release folder inside it that does."""
    if entry_kind(root / "train.csv") == FILE:
        return root
    found = [root / name for name in RELEASES if entry_kind(root / name / "train.csv") == FILE]
    if len(found) > 1:
        raise DataError(f"{root} holds both {' and '.join(RELEASES)}; set the dataset path to the one to use")
    if not found:
        raise DataError(f"{root} is not CheXpert v1.0: no train.csv in it nor in {' or '.join(RELEASES)}/")
    return found[0]


def _relative(cell: str, base: Path) -> str:
    """The `Path` cell without its leading release folder (whatever the folder is called on disk)."""
    parts = PurePosixPath(cell.strip()).parts
    return str(PurePosixPath(*parts[1:])) if len(parts) > 1 and parts[0] in {base.name, *RELEASES} else cell.strip()


def _image(base: Path, relative: str) -> Path | str:
    """The listed image, or why it cannot be one."""
    path = listed_file(base, relative)
    if isinstance(path, str):
        return path
    if is_hidden(Path(relative)) or path.suffix.lower() not in IMAGE_SUFFIXES:
        return f"not an image file ({path.name})"
    return path


def find_chexpert(spec: DatasetSpec) -> Discovered:
    base = release_folder(spec.path)
    found = Discovered([], classes=[*spec.positive, *spec.negative])
    tally = Tally(spec)
    for name, split in TABLES.items():
        table = base / name
        if split == "test" and entry_kind(table) == MISSING:
            found.notes.append(f"no {name} in {base.name}: the test split is carved from train by patient too")
            continue
        if split == "test":
            found.notes.append(f"official {name} is the test split; validation is carved from train by patient")
        findings = FindingTable(table, spec, NOT_FINDINGS)
        for line, row in read_rows(table, {PATH: "column", VIEW: "column"}):
            if not tally.keeps(VIEWS.get(row[VIEW].strip().casefold()), row[VIEW]):
                continue
            label = tally.label(findings.read(line, row))
            if label is None:
                continue
            relative = _relative(row[PATH], base)
            path = _image(base, relative)
            if isinstance(path, str):
                found.skipped.append(
                    (f"{table}:{line}", f"listed in {name} but not on disk" if path == MISSING else path)
                )
                continue
            patient = PATIENT_RE.search(relative)
            found.samples.append(Sample(path, label, patient.group(1) if patient else str(path), split))
    found.notes += tally.notes()
    return found
