"""Training-image augmentation: Keras preprocessing layers on the gray pixels, seeded.

The layers run on float (N, H, W, 1) images in 0–255, before the ImageNet normalisation, so
brightness and contrast are fractions of the real pixel range. Whatever a transform moves in from
outside the image is black, as the air around a radiograph is, not a reflection of anatomy. One seed
gives the same sequence of changes, so a resumed job computes the same augmented views again.
"""

from __future__ import annotations

import keras
import numpy as np

from medcam_core.config import Augment


def view_seed(seed: int, view: int) -> int:
    """A seed for each cached view that no other (seed, view) pair shares."""
    return int(np.random.SeedSequence([seed, view]).generate_state(1)[0] & 0x7FFFFFFF)


def augmenter(spec: Augment, seed: int) -> keras.Sequential:
    """The layers `spec` turns on, in the order geometry → intensity; each layer seeded apart."""
    edge = {"fill_mode": "constant", "fill_value": 0.0}
    layers: list[keras.layers.Layer] = []
    if spec.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if spec.rotation:
        layers.append(keras.layers.RandomRotation(spec.rotation / 360.0, seed=seed + 1, **edge))
    if spec.shift:
        layers.append(keras.layers.RandomTranslation(spec.shift, spec.shift, seed=seed + 2, **edge))
    if spec.zoom:
        layers.append(keras.layers.RandomZoom(spec.zoom, seed=seed + 3, **edge))
    if spec.brightness:
        layers.append(keras.layers.RandomBrightness(spec.brightness, value_range=(0, 255), seed=seed + 4))
    if spec.contrast:
        layers.append(keras.layers.RandomContrast(spec.contrast, value_range=(0, 255), seed=seed + 5))
    return keras.Sequential(layers, name="augment")
