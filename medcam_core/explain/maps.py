"""Grad-CAM maps for images on disk: what to explain (`Item`), and the maps with their predictions.

Rendering them (`render`), scoring them against lesion masks (`localisation`) and choosing which
to show (`picking`) each live in their own module; `examples` presents all of it under one name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medcam_core.data.decode import decode
from medcam_core.explain.cam import CamBatch, GradCAM
from medcam_core.train.input_pipeline import Indexable, to_model_input

PLAN_LAYER = "conv5_block16_2_conv"  # the plan's layer, offered next to the default (last) feature map
CHUNK = 64


@dataclass
class Item:
    """One image to explain, with what is known about it."""

    path: Path
    label: int | None = None


@dataclass
class Explained:
    item: Item
    cam: np.ndarray
    probability: float
    target: float
    files: dict[str, Path] = field(default_factory=dict)


def model_inputs(items: list[Item], size: int) -> np.ndarray:
    gray = np.stack([decode(item.path, size) for item in items])
    return np.asarray(to_model_input(gray))


def explain(
    cam: GradCAM,
    items: list[Item],
    size: int,
    target: str = "predicted",
    threshold: float = 0.5,
    inputs: Indexable | None = None,
) -> list[Explained]:
    """Maps for `items`, a chunk at a time so memory does not grow with the test split.

    `inputs`, aligned with `items`, are what `cam`'s model takes (cached frozen features for the
    trainable head); without them each image is decoded for the full model.
    """
    out: list[Explained] = []
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        x = model_inputs(chunk, size) if inputs is None else inputs[np.arange(start, start + len(chunk))]
        batch: CamBatch = cam(x, target=target, threshold=threshold)
        out += [
            Explained(item, batch.maps[i], float(batch.probabilities[i]), float(batch.targets[i]))
            for i, item in enumerate(chunk)
        ]
    return out
