"""A dataset ready to train: decoded once, split by patient, with counts for events and reports."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medcam_core.config import DatasetSpec
from medcam_core.data.annotations import Box
from medcam_core.data.decode import decode_many
from medcam_core.data.discovery import Sample, assign_splits
from medcam_core.data.leaks import audit
from medcam_core.data.recipes import discover
from medcam_core.data.scratch import RecordFile, Subset
from medcam_core.data.splits import SPLITS
from medcam_core.errors import DataError

MIN_PER_CLASS = {"train": 2, "val": 1, "test": 1}


def reason_kind(reason: str) -> str:
    """`too small (8×8 px)` → `too small`: skip reasons grouped for counts, details kept in the log."""
    return re.split(r"[:(]", reason, maxsplit=1)[0].strip()


@dataclass
class Split:
    images: Subset
    labels: np.ndarray
    paths: list[str]
    patients: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict[str, int]:
        pos = int(self.labels.sum())
        return {"positive": pos, "negative": len(self.labels) - pos}


@dataclass
class LoadedDataset:
    spec: DatasetSpec
    image_size: int
    splits: dict[str, Split]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    duplicates: int = 0
    leaks: list[str] = field(default_factory=list)
    boxes: dict[str, tuple[Box, ...]] = field(default_factory=dict)  # path → the recipe's annotated boxes

    def counts(self) -> dict[str, dict[str, int]]:
        return {name: split.counts() for name, split in self.splits.items()}

    def patients(self) -> dict[str, int]:
        return {name: len(set(split.patients)) for name, split in self.splits.items()}

    def skipped_reasons(self) -> dict[str, int]:
        return dict(Counter(reason_kind(reason) for _, reason in self.skipped))

    def class_weight(self) -> dict[int, float]:
        """Balanced weights from the training split only, so test counts never leak in."""
        y = self.splits["train"].labels
        n = len(y)
        return {c: n / (2.0 * max(1, int((y == c).sum()))) for c in (0, 1)}


def load_dataset(
    spec: DatasetSpec,
    image_size: int,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
    scratch: Path | None = None,
) -> LoadedDataset:
    """Discover, split, decode and audit; DataError when a split lacks a class or patients leak.

    Decoded images go to an unlinked file in `scratch` (default: the system temp folder).
    """
    data = inspect_dataset(spec, image_size, seed, progress, scratch)
    if data.leaks and spec.leaks == "error":
        raise DataError(leak_message(spec, data.leaks))
    check_usable(spec, data.splits)
    return data


def inspect_dataset(
    spec: DatasetSpec,
    image_size: int,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
    scratch: Path | None = None,
) -> LoadedDataset:
    """Everything `load_dataset` finds, leaks and too-small splits included, without refusing any."""
    start = time.perf_counter()
    found = discover(spec, seed)
    assign_splits(found.samples, spec.split, seed)
    paths = [s.path for s in found.samples]
    decoded = decode_many(paths, image_size, progress, scratch=scratch)
    skipped = list(found.skipped) + [(str(paths[i]), reason) for i, reason in decoded.skipped]
    samples = [found.samples[i] for i in decoded.kept]
    checked = audit(samples, decoded.hashes, spec.leaks == "drop", spec.path)
    skipped += checked.skipped
    rows = [decoded.kept[i] for i in checked.keep]
    samples = [samples[i] for i in checked.keep]
    splits = {name: _split(samples, decoded.images, rows, name) for name in SPLITS}
    return LoadedDataset(
        spec,
        image_size,
        splits,
        skipped,
        time.perf_counter() - start,
        found.notes,
        checked.duplicates,
        checked.leaks,
        {str(s.path): s.boxes for s in samples if s.boxes},
    )


def _split(samples: list[Sample], images: RecordFile, rows: list[int], name: str) -> Split:
    idx = [i for i, s in enumerate(samples) if s.split == name]
    return Split(
        images=images.subset([rows[i] for i in idx]),
        labels=np.array([samples[i].label for i in idx], dtype=np.float32),
        paths=[str(samples[i].path) for i in idx],
        patients=[samples[i].patient for i in idx],
    )


def leak_message(spec: DatasetSpec, leaks: list[str]) -> str:
    shown = "; ".join(leaks[:3]) + (f"; and {len(leaks) - 3} more" if len(leaks) > 3 else "")
    return (
        f"dataset {spec.name!r}: {len(leaks)} leak(s) across splits ({shown}). Test scores would be inflated. "
        'Set `leaks = "drop"` for this dataset to drop them from train/val (test is never changed), '
        "or fix the folders."
    )


def check_usable(spec: DatasetSpec, splits: dict[str, Split]) -> None:
    for name, split in splits.items():
        counts = split.counts()
        for cls in ("positive", "negative"):
            if counts[cls] < MIN_PER_CLASS[name]:
                raise DataError(
                    f"dataset {spec.name!r}: the {name} split has {counts[cls]} {cls} image(s) "
                    f"(needs ≥ {MIN_PER_CLASS[name]}); counts {counts}. "
                    "Check the class folders and `positive`/`negative` in the config."
                )
