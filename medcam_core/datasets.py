"""A dataset ready to train: decoded once, split by patient, with counts for events and reports."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from medcam_core.config import DatasetSpec
from medcam_core.discovery import assign_splits, discover
from medcam_core.errors import DataError
from medcam_core.images import decode_many
from medcam_core.splits import SPLITS

MIN_PER_CLASS = {"train": 2, "val": 1, "test": 1}


@dataclass
class Split:
    images: np.ndarray
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

    def counts(self) -> dict[str, dict[str, int]]:
        return {name: split.counts() for name, split in self.splits.items()}

    def patients(self) -> dict[str, int]:
        return {name: len(set(split.patients)) for name, split in self.splits.items()}

    def skipped_reasons(self) -> dict[str, int]:
        return dict(Counter(reason.split(":")[0] for _, reason in self.skipped))

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
) -> LoadedDataset:
    """Discover, split and decode; DataError when a split would lack a class."""
    start = time.perf_counter()
    found = discover(spec, seed)
    assign_splits(found.samples, spec.split, seed)
    paths = [s.path for s in found.samples]
    images, kept, failed = decode_many(paths, image_size, progress)
    skipped = list(found.skipped) + [(str(paths[i]), reason) for i, reason in failed]
    samples = [found.samples[i] for i in kept]
    splits: dict[str, Split] = {}
    for name in SPLITS:
        idx = [i for i, s in enumerate(samples) if s.split == name]
        splits[name] = Split(
            images=images[idx],
            labels=np.array([samples[i].label for i in idx], dtype=np.float32),
            paths=[str(samples[i].path) for i in idx],
            patients=[samples[i].patient for i in idx],
        )
    _check_usable(spec, splits)
    return LoadedDataset(spec, image_size, splits, skipped, time.perf_counter() - start)


def _check_usable(spec: DatasetSpec, splits: dict[str, Split]) -> None:
    for name, split in splits.items():
        counts = split.counts()
        for cls in ("positive", "negative"):
            if counts[cls] < MIN_PER_CLASS[name]:
                raise DataError(
                    f"dataset {spec.name!r}: the {name} split has {counts[cls]} {cls} image(s) "
                    f"(needs ≥ {MIN_PER_CLASS[name]}); counts {counts}. "
                    "Check the class folders and `positive`/`negative` in the config."
                )
