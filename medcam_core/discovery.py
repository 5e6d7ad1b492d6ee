"""Find a dataset's images, each with a label, a patient and a split, through the dataset's recipe.

What every recipe shares lives here: listing image files, matching class names, capping each
class, and carving the splits a layout lacks. Synthetic lesion masks (`*.mask.png`) are ground
truth, never training images.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    """Samples, files left out with a reason each, and dataset-level remarks for the user."""

    samples: list[Sample]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def discover(spec: DatasetSpec, seed: int) -> Discovered:
    """The recipe's samples, capped at `max_per_class` per class and source split."""
    from medcam_core.recipes import FINDERS

    if not spec.path.is_dir():
        raise DataError(f"dataset folder not found: {spec.path}")
    found = FINDERS[spec.recipe](spec)
    found.samples = cap_per_class(found.samples, spec.max_per_class, np.random.default_rng(seed))
    return found


def cap_per_class(samples: list[Sample], limit: int, rng: np.random.Generator) -> list[Sample]:
    """A seeded random subset of at most `limit` per (split, label), in the original order."""
    pools: dict[tuple[str, int], list[int]] = {}
    for i, s in enumerate(samples):
        pools.setdefault((s.split, s.label), []).append(i)
    keep: list[int] = []
    for key in sorted(pools):
        idx = pools[key]
        keep.extend(idx if len(idx) <= limit else [idx[j] for j in rng.choice(len(idx), limit, replace=False)])
    return [samples[i] for i in sorted(keep)]


def image_files(folder: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """Image files under `folder`, sorted; hidden and non-image files go to `skipped`."""
    out = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.endswith(".mask.png"):
            continue
        if is_hidden(path.relative_to(folder)):
            skipped.append((str(path), "hidden file"))
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((str(path), f"not an image file extension ({path.suffix or 'none'})"))
        else:
            out.append(path)
    return out


def is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def class_label(name: str, spec: DatasetSpec) -> int | None:
    """1, 0, or None for a class the config leaves out; names match case-insensitively."""
    key = name.casefold()
    if key in {p.casefold() for p in spec.positive}:
        return 1
    if not spec.negative or key in {n.casefold() for n in spec.negative}:
        return 0
    return None


def missing_classes(spec: DatasetSpec, found: Iterable[str]) -> list[str]:
    have = {c.casefold() for c in found}
    return [c for c in (*spec.positive, *spec.negative) if c.casefold() not in have]


def inside(root: Path, relative: str) -> Path | None:
    """`root/relative`, or None when the path would leave `root` (a table must not point elsewhere)."""
    path = (root / relative).resolve()
    return path if path.is_relative_to(root.resolve()) else None


def split_name(value: str) -> str | None:
    return SPLIT_ALIASES.get(value.strip().casefold())


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
