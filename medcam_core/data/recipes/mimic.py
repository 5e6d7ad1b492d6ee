"""MIMIC-CXR-JPG as downloaded from PhysioNet: `files/pXX/pSUBJECT/sSTUDY/<dicom_id>.jpg` with the
gzipped tables beside `files/`: labels per study (`-chexpert`, or `-negbio` with `labeler`), the
official split per image (`-split`: train / validate / test) and the view per image (`-metadata`'s
`ViewPosition`). The patient is the subject.

Ids come from the tables (untrusted text): an image path is built only from ids that look like
MIMIC's, and it must stay inside the dataset folder. A partial download (a few `pXX` folders) is
normal: images without a file are counted in a note, not listed one by one.
"""

from __future__ import annotations

import re
from pathlib import Path

from medcam_core.config import DatasetSpec
from medcam_core.data.discovery import MISSING, Discovered, Sample, listed_file
from medcam_core.data.recipes.findings import FindingTable, Reading, Tally, quoted
from medcam_core.data.recipes.table import read_rows
from medcam_core.errors import DataError
from medcam_core.vocabulary import View

SUBJECT, STUDY, DICOM, VIEW = "subject_id", "study_id", "dicom_id", "ViewPosition"
SPLITS = {"train": "train", "validate": "val", "test": "test"}
VIEWS = {"PA": View.FRONTAL, "AP": View.FRONTAL, "LATERAL": View.LATERAL, "LL": View.LATERAL}
NUMBER = re.compile(r"[0-9]{1,12}")
DICOM_ID = re.compile(r"[0-9A-Za-z-]{1,80}")


def _table(base: Path, kind: str) -> Path | None:
    """The newest `mimic-cxr-<version>-<kind>.csv.gz` (or an unpacked `.csv`) in `base`."""
    found = sorted(base.glob(f"mimic-cxr-*-{kind}.csv.gz")) or sorted(base.glob(f"mimic-cxr-*-{kind}.csv"))
    return found[-1] if found else None


def _metadata(root: Path) -> Path:
    """The metadata table in `root`, or in the newest version folder inside it (`mimic-cxr-jpg/2.1.0/`):
    the folder it lies in is the dataset's base."""
    folders = [root, *sorted((f for f in root.iterdir() if f.is_dir()), reverse=True)]
    for folder in folders:
        table = _table(folder, "metadata")
        if table:
            return table
    raise DataError(f"{root} is not MIMIC-CXR-JPG: no mimic-cxr-2.0.0-metadata.csv.gz in it nor in a version folder")


def _readings(table: Path, spec: DatasetSpec) -> dict[tuple[str, str], Reading]:
    findings = FindingTable(table, spec, (SUBJECT, STUDY))
    rows = read_rows(table, {SUBJECT: "column", STUDY: "column"})
    return {(row[SUBJECT].strip(), row[STUDY].strip()): findings.read(line, row) for line, row in rows}


def _splits(table: Path) -> dict[str, str]:
    out = {}
    for line, row in read_rows(table, {DICOM: "column", "split": "column"}):
        name = SPLITS.get(row["split"].strip().casefold())
        if name is None:
            raise DataError(
                f"{table}: row {line}, column 'split': expected train, validate or test, got {quoted(row['split'])}"
            )
        out[row[DICOM].strip()] = name
    return out


def find_mimic(spec: DatasetSpec) -> Discovered:
    metadata = _metadata(spec.path)
    base = metadata.parent
    labels = _table(base, spec.labeler.value)
    if labels is None:
        raise DataError(f"no mimic-cxr-2.0.0-{spec.labeler}.csv.gz in {base} (labeler = {spec.labeler!s})")
    split_table = _table(base, "split")
    readings = _readings(labels, spec)
    official = _splits(split_table) if split_table else {}
    found = Discovered([], classes=[*spec.positive, *spec.negative])
    tally = Tally(spec)
    unlabelled = unsplit = absent = 0
    for line, row in read_rows(metadata, {name: "column" for name in (DICOM, SUBJECT, STUDY, VIEW)}):
        if not tally.keeps(VIEWS.get(row[VIEW].strip().upper()), row[VIEW]):
            continue
        subject, study, dicom = (row[name].strip() for name in (SUBJECT, STUDY, DICOM))
        reading = readings.get((subject, study))
        if reading is None:
            unlabelled += 1
            continue
        split = official.get(dicom, "")
        if official and not split:
            unsplit += 1
            continue
        if not (NUMBER.fullmatch(subject) and NUMBER.fullmatch(study) and DICOM_ID.fullmatch(dicom)):
            found.skipped.append((f"{metadata}:{line}", "not a MIMIC-CXR id (subject_id, study_id or dicom_id)"))
            continue
        path = listed_file(base, f"files/p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg")
        if path == MISSING:
            absent += 1
            continue
        if isinstance(path, str):
            found.skipped.append((f"{metadata}:{line}", path))
            continue
        label = tally.label(reading)
        if label is not None:
            found.samples.append(Sample(path, label, f"p{subject}", split))
    found.notes.append(f"labels from {labels.name} (labeler = {spec.labeler!s}); patients are subjects")
    if absent:
        found.notes.append(f"{absent} images of {metadata.name} have no file under files/ (a partial download?)")
    if unlabelled:
        found.notes.append(f"{unlabelled} images whose study has no row in {labels.name} not used")
    if split_table:
        found.notes.append(f"official split from {split_table.name}: train, validate (val), test")
        if unsplit:
            found.notes.append(f"{unsplit} images not in {split_table.name} not used")
    else:
        found.notes.append("no mimic-cxr-2.0.0-split.csv.gz: validation and test are carved by patient")
    found.notes += tally.notes()
    return found
