"""One finder per recipe name: each turns a folder as downloaded into labelled, grouped samples;
`discover` runs a dataset's finder and caps each class."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medcam_core.config import DatasetSpec
from medcam_core.data.discovery import FOLDER, Discovered, Sample, entry_kind
from medcam_core.data.recipes.box_table import attach_boxes
from medcam_core.data.recipes.chexpert import find_chexpert
from medcam_core.data.recipes.folders import find_folder, find_kermany, find_knee_kl
from medcam_core.data.recipes.mimic import find_mimic
from medcam_core.data.recipes.mura import find_mura
from medcam_core.data.recipes.nih import find_nih
from medcam_core.data.recipes.rsna import find_rsna
from medcam_core.data.recipes.table import find_table
from medcam_core.errors import DataError

FINDERS: dict[str, Callable[[DatasetSpec], Discovered]] = {
    "folder": find_folder,
    "csv": find_table,
    "kermany": find_kermany,
    "nih-cardiomegaly": find_nih,
    "mura": find_mura,
    "knee-kl": find_knee_kl,
    "osteoporosis": find_folder,
    "chexpert": find_chexpert,
    "rsna-pneumonia": find_rsna,
    "mimic-cxr-jpg": find_mimic,
}


def discover(spec: DatasetSpec, seed: int) -> Discovered:
    """The recipe's samples, capped at `max_per_class` per class and source split."""
    if not spec.path.is_dir():
        raise DataError(f"dataset folder not found: {spec.path}")
    if spec.masks and entry_kind(spec.path / spec.masks) != FOLDER:
        raise DataError(f"dataset {spec.name!r}: masks: no folder {spec.masks!r} in {spec.path}")
    found = FINDERS[spec.recipe](spec)
    if spec.boxes:
        attach_boxes(spec, found)
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
