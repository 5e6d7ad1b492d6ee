"""RSNA Pneumonia Detection Challenge as downloaded: `stage_2_train_labels.csv` (`patientId,x,y,width,
height,Target`, one row per box; a negative patient has one row with empty coordinates) and one DICOM
per patient in `stage_2_train_images/<patientId>.dcm`. The boxes (top-left corner, width, height in
the original pixels) are kept for localisation. The challenge's test images carry no labels, so
validation and test are carved from the training images by patient.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from medcam_core.config import DatasetSpec
from medcam_core.data.annotations import Box
from medcam_core.data.discovery import FOLDER, MISSING, Discovered, Sample, entry_kind, listed_file
from medcam_core.data.recipes.box_table import BOX, parse_box
from medcam_core.data.recipes.findings import quoted
from medcam_core.data.recipes.table import read_rows
from medcam_core.errors import DataError

PATIENT, TARGET = "patientId", "Target"
TARGETS = {"0": 0, "1": 1, "0.0": 0, "1.0": 1}


@dataclass
class Patient:
    label: int
    line: int  # the first row naming the patient
    boxes: list[Box] = field(default_factory=list)


def _labels_table(root: Path) -> Path:
    """The latest stage's label table (stage 2 over stage 1)."""
    tables = sorted(root.glob("stage_*_train_labels.csv"))
    if not tables:
        raise DataError(f"no stage_2_train_labels.csv in {root} (the RSNA Pneumonia Detection label table)")
    return tables[-1]


def _patients(table: Path, found: Discovered) -> dict[str, Patient]:
    """Every patient's label and boxes; rows of one patient must agree on Target."""
    patients: dict[str, Patient] = {}
    for line, row in read_rows(table, {name: "column" for name in (PATIENT, *BOX, TARGET)}):
        patient_id = row[PATIENT].strip()
        if not patient_id:
            found.skipped.append((f"{table}:{line}", "blank patientId"))
            continue
        label = TARGETS.get(row[TARGET].strip())
        if label is None:
            raise DataError(
                f"{table}: row {line}, column {TARGET!r}: expected 0 or 1, got {quoted(row[TARGET].strip())}"
            )
        patient = patients.setdefault(patient_id, Patient(label, line))
        if patient.label != label:
            raise DataError(
                f"{table}: row {line}: patient {quoted(patient_id)} has Target {label} here "
                f"but {patient.label} on row {patient.line}"
            )
        if label:
            patient.boxes.append(parse_box(table, line, row, "Target 1 box"))
    return patients


def find_rsna(spec: DatasetSpec) -> Discovered:
    table = _labels_table(spec.path)
    stage = table.name.removesuffix("_train_labels.csv")
    images = spec.path / f"{stage}_train_images"
    if entry_kind(images) != FOLDER:
        raise DataError(f"no {images.name}/ folder in {spec.path} (the images {table.name} labels)")
    found = Discovered([], classes=["pneumonia (Target 1)", "no pneumonia (Target 0)"])
    patients = _patients(table, found)
    for patient_id, patient in patients.items():
        path = listed_file(images, f"{patient_id}.dcm")
        if isinstance(path, str):
            reason = f"listed in {table.name} but not on disk" if path == MISSING else path
            found.skipped.append((str(images / f"{patient_id}.dcm"), reason))
            continue
        found.samples.append(Sample(path, patient.label, patient_id, "", tuple(patient.boxes)))
    boxes = sum(len(p.boxes) for p in patients.values())
    positives = sum(p.label for p in patients.values())
    found.notes.append(
        f"one image per patient; {positives} positive patients carry {boxes} boxes (kept for localisation); "
        "validation and test are carved by patient"
    )
    unlabelled = spec.path / f"{stage}_test_images"
    if entry_kind(unlabelled) == FOLDER:
        found.notes.append(f"{unlabelled.name}/ not used: it has no labels")
    return found
