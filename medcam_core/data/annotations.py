"""Regions a dataset annotates on its images (RSNA's pneumonia boxes, a box table), in the original
image's pixels, and the lesion masks they make at any size: the ground truth of the localisation figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """A rectangle in the original image's pixels: top-left corner, width and height."""

    x: float
    y: float
    width: float
    height: float


def box_mask(boxes: Sequence[Box], original: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Boolean (rows, cols) mask of `boxes` drawn on an image of `original` (width, height) px resized
    to `shape`; each axis scales on its own, as the decoder resizes without keeping the aspect."""
    rows, cols = shape
    width, height = original
    mask = np.zeros(shape, dtype=bool)
    for box in boxes:
        x0 = int(np.floor(box.x * cols / width))
        y0 = int(np.floor(box.y * rows / height))
        x1 = int(np.ceil((box.x + box.width) * cols / width))
        y1 = int(np.ceil((box.y + box.height) * rows / height))
        mask[max(0, y0) : min(rows, y1), max(0, x0) : min(cols, x1)] = True
    return mask
