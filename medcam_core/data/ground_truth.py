"""Where each image's lesion lies, from whatever the dataset brings: a recipe's boxes (RSNA), or the
synthetic data's `<stem>.mask.png` beside each positive. The explain stage scores Grad-CAM on it and
the report names the source, so a figure from drawn boxes is never mistaken for one from real ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from medcam_core.data.annotations import Box, box_mask
from medcam_core.data.decode import ImageSkipped, original_size
from medcam_core.data.synthetic import lesion_mask
from medcam_core.vocabulary import TextEnum


class Annotation(TextEnum):
    """What the localisation figures were measured against."""

    SYNTHETIC = "synthetic lesion masks"
    BOXES = "the dataset's annotated boxes"


@dataclass
class GroundTruth:
    """The lesion masks of a dataset's images: its annotated boxes when it has any, else synthetic masks."""

    boxes: dict[str, tuple[Box, ...]] = field(default_factory=dict)

    @property
    def source(self) -> Annotation:
        return Annotation.BOXES if self.boxes else Annotation.SYNTHETIC

    def mask_for(self, path: Path) -> np.ndarray | None:
        """A boolean mask at the image's own resolution, or None when the image has no annotation."""
        if self.boxes:
            found = self.boxes.get(str(path))
            if not found:
                return None
            try:
                width, height = original_size(path)
            except ImageSkipped:
                return None
            return box_mask(found, (width, height), (height, width))
        mask_file = lesion_mask(path)
        if mask_file is None:
            return None
        with Image.open(mask_file) as im:
            return np.asarray(im.convert("L")) > 127
