"""Find the images of a folder-per-class dataset and give each a label, a patient and a split.

Layouts: `<root>/<class>/…` or `<root>/{train,val,test}/<class>/…` (class folders may nest).
Synthetic lesion masks (`*.mask.png`) are ground truth, never training images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medcam_core.config import DatasetSpec
from medcam_core.errors import DataError
from medcam_core.splits import SPLITS, grouped_stratified_split

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}


@dataclass
class Sample:
    path: Path
    label: int
    patient: str
    split: str = ""


@dataclass
class Discovered:
    samples: list[Sample]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)


def _split_folders(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.lower() in SPLIT_ALIASES:
            found.setdefault(SPLIT_ALIASES[child.name.lower()], child)
    return found if "train" in found else {}


def _class_dirs(folder: Path) -> dict[str, Path]:
    return {c.name: c for c in sorted(folder.iterdir()) if c.is_dir() and not c.name.startswith(".")}


def _files(folder: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    out = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.endswith(".mask.png"):
            continue
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            skipped.append((str(path), "hidden file"))
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((str(path), f"not an image file extension ({path.suffix or 'none'})"))
        else:
            out.append(path)
    return out


def discover(spec: DatasetSpec, seed: int) -> Discovered:
    """Labelled samples with split names, capped at `max_per_class` per class and split folder."""
    root = spec.path
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    splits = _split_folders(root)
    pools = splits or {"": root}
    patient_re = re.compile(spec.patient_id) if spec.patient_id else None
    rng = np.random.default_rng(seed)
    skipped: list[tuple[str, str]] = []
    samples: list[Sample] = []
    classes: set[str] = set()
    for split, folder in pools.items():
        class_dirs = _class_dirs(folder)
        classes.update(class_dirs)
        for name, cdir in class_dirs.items():
            if name in spec.positive:
                label = 1
            elif not spec.negative or name in spec.negative:
                label = 0
            else:
                continue
            files = _files(cdir, skipped)
            if len(files) > spec.max_per_class:
                files = [files[i] for i in sorted(rng.choice(len(files), spec.max_per_class, replace=False))]
            for path in files:
                patient = _patient(path, patient_re)
                samples.append(Sample(path, label, patient, split))
    missing = [c for c in (*spec.positive, *spec.negative) if c not in classes]
    if missing:
        raise DataError(f"class folder(s) {missing} not found in {root}; found: {sorted(classes) or 'none'}")
    return Discovered(samples, skipped, sorted(classes))


def _patient(path: Path, patient_re: re.Pattern[str] | None) -> str:
    if patient_re is None:
        return str(path)
    match = patient_re.search(path.name)
    return match.group(1) if match else str(path)


def assign_splits(samples: list[Sample], fractions: tuple[float, float, float], seed: int) -> None:
    """Fill in the splits a layout lacks by carving them, patient-grouped, out of train.

    An official test split is never touched; validation comes from train when absent.
    """
    missing = [name for name in ("val", "test") if not any(s.split == name for s in samples)]
    if not missing and all(s.split for s in samples):
        return
    pool = [s for s in samples if s.split in ("", "train")]
    wanted = ["train", *missing]
    fr = [fractions[SPLITS.index(name)] for name in wanted]
    names = grouped_stratified_split([s.label for s in pool], [s.patient for s in pool], fr, seed, names=wanted)
    for sample, name in zip(pool, names, strict=True):
        sample.split = str(name)
