"""Where each image's lesion lies, from whatever the dataset brings: boxes (RSNA's, or a `boxes`
table), a `masks` folder mirroring the images, or the synthetic data's `<stem>.mask.png` beside each
positive. The explain stage scores Grad-CAM on it and the report names the source, so a figure from
synthetic masks is never mistaken for one from a dataset's own annotations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from medcam_core.config import DatasetSpec
from medcam_core.data.annotations import Box, box_mask
from medcam_core.data.decode import ImageSkipped, original_size
from medcam_core.data.synthetic import lesion_mask
from medcam_core.vocabulary import TextEnum


class Annotation(TextEnum):
    """What the localisation figures were measured against."""

    SYNTHETIC = "synthetic lesion masks"
    BOXES = "the dataset's annotated boxes"
    MASKS = "the dataset's annotated masks"


@dataclass
class GroundTruth:
    """The lesion masks of a dataset's images: its annotated boxes when it has any, else its mask
    folder (`masks`, under `root`), else the synthetic masks."""

    boxes: dict[str, tuple[Box, ...]] = field(default_factory=dict)
    root: Path | None = None  # the dataset folder, with `masks`
    masks: str = ""

    @classmethod
    def for_dataset(cls, spec: DatasetSpec, boxes: dict[str, tuple[Box, ...]]) -> GroundTruth:
        return cls(boxes, spec.path, spec.masks)

    @property
    def source(self) -> Annotation:
        if self.boxes:
            return Annotation.BOXES
        return Annotation.MASKS if self.masks else Annotation.SYNTHETIC

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
        mask_file = self._mask_file(Path(path)) if self.masks else lesion_mask(path)
        if mask_file is None or not mask_file.is_file():
            return None
        try:
            with Image.open(mask_file) as im:
                return np.asarray(im.convert("L")) > 127
        except (OSError, ValueError):  # an unreadable mask scores nothing; the image is not held against it
            return None

    def _mask_file(self, path: Path) -> Path | None:
        """`<root>/<masks>/<the image's path inside root, with .png>`; None for an image outside root."""
        assert self.root is not None
        root = self.root.resolve()
        try:
            relative = path.resolve().relative_to(root)
        except ValueError:
            return None
        return root / self.masks / relative.with_suffix(".png")
