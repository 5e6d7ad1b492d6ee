"""Values of any range to 8-bit gray: the last step of every decode (a DICOM's window, a 16-bit PNG's
min..max), so both stretch alike."""

from __future__ import annotations

import numpy as np


def to_8bit(values: np.ndarray, black: float, white: float) -> np.ndarray:
    """`black` → 0, `white` → 255, linear and clipped; `white < black` shows the image inverted.

    Shared with 16-bit PNGs (black and white: their min and max), so both stretch alike.
    """
    span = white - black
    if span == 0:
        return np.zeros(np.shape(values), dtype=np.uint8)
    scaled = (np.asarray(values, dtype=np.float64) - black) * (255.0 / span)
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
