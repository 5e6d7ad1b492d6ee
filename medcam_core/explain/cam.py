"""Grad-CAM for a Keras binary classifier, flat or with a nested backbone: one traced function over batches.

The gradient is taken of the **logit**, not the sigmoid output (which saturates to zero gradient on
confident images). The gradient of −logit is the negation of the gradient of the logit, so one pass
yields the signed map Σ_k w_k·A_k: its positive part explains the positive class, its negative part
the negative class, and "predicted" picks per image. A Dense(2, softmax) head's logit is the
difference z[positive] − z[other], whose sigmoid is the softmax's P(positive): the same map as a
sigmoid head with that one logit. A layer inside a nested backbone is reached by running the
backbone as its own graph (`inference.graph.tap`).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from medcam_core.errors import MedcamError
from medcam_core.inference.graph import feature_maps, read_head, tap

TARGETS = ("predicted", "positive", "negative")
EPS = 1e-8


class GradCAMError(MedcamError):
    """A layer or target that Grad-CAM cannot use; the message lists what can be used."""


def feature_layers(model: keras.Model) -> list[str]:
    """Names of layers with a 4-D output (batch, height, width, channels), in graph order; those of a
    backbone nested as one layer are listed in its place."""
    return feature_maps(model)


@dataclass
class CamBatch:
    maps: np.ndarray  # (N, h, w) in [0, 1]
    probabilities: np.ndarray  # (N,)
    targets: np.ndarray  # (N,) +1 explains the positive class, −1 the negative


class GradCAM:
    """`GradCAM(model, layer=None)(images, target="predicted", threshold=0.5)` → normalised maps."""

    def __init__(
        self,
        model: keras.Model,
        layer: str | None = None,
        batch_size: int = 16,
        traced: bool = True,
        start: str | None = None,
        positive_index: int = 1,
        jit_compile: bool = False,
    ) -> None:
        """`start` names a layer whose output the maps are computed from instead of the images: the
        frozen-feature boundary, so cached features stand in for a forward pass of the frozen part.
        `positive_index` is the positive class's output of a Dense(2, softmax) head (for a sigmoid head,
        0 makes class 0 the positive one). `jit_compile` traces it with XLA."""
        usable = feature_layers(model)
        if not usable:
            raise GradCAMError("the model has no layer with a 4-D output to explain")
        if layer is None:
            layer = usable[-1]
        elif layer not in usable:
            raise GradCAMError(
                f"layer {layer!r} is not a 4-D feature map of this model; usable layers end with: "
                f"{', '.join(usable[-12:])} ({len(usable)} in all)"
            )
        self.model, self.layer, self.batch_size = model, layer, batch_size
        self.head = read_head(model, positive_index)
        entry = model.inputs[0] if start is None else model.get_layer(start).output
        try:
            self._tap = tap(model, layer, self.head.pre, entry)
        except ValueError:
            raise GradCAMError(f"layer {layer!r} does not come after {start!r}") from None
        # traced once for throughput (any batch size: the signature leaves it free, so a last partial
        # batch does not retrace); eager skips the trace, cheaper for a handful of tiny images
        signature = [tf.TensorSpec((None, *entry.shape[1:]), tf.float32)]
        traced_maps = tf.function(self._signed_maps, input_signature=signature, jit_compile=jit_compile)
        self._signed = traced_maps if traced else self._signed_maps

    def _signed_maps(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            fmap, pre = self._tap(x, training=False)
            logit = self.head.logit(pre)
        # a mixed-precision model's maps and gradients are 16-bit: averaged and summed in float32
        grads = tf.cast(tape.gradient(logit, fmap), tf.float32)
        fmap = tf.cast(fmap, tf.float32)
        weights = tf.reduce_mean(grads, axis=(1, 2))
        signed = tf.reduce_sum(fmap * weights[:, tf.newaxis, tf.newaxis, :], axis=-1)
        return signed, tf.sigmoid(logit)

    def signed(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The raw maps Σ_k w_k·A_k (N, h, w), before any ReLU or scaling: positive where a region
        raises the logit, negative where it lowers it; and P(positive) (N,)."""
        signed_parts, prob_parts = [], []
        for start in range(0, len(images), self.batch_size):
            signed, probs = self._signed(tf.convert_to_tensor(images[start : start + self.batch_size]))
            signed_parts.append(signed.numpy())
            prob_parts.append(probs.numpy())
        signed = np.concatenate(signed_parts) if signed_parts else np.zeros((0, 1, 1), np.float32)
        probs = np.concatenate(prob_parts) if prob_parts else np.zeros((0,), np.float32)
        return signed, probs

    def __call__(self, images: np.ndarray, target: str = "predicted", threshold: float = 0.5) -> CamBatch:
        """Maps for preprocessed model inputs (N, H, W, 3), each normalised to [0, 1] by its maximum."""
        if target not in TARGETS:
            raise GradCAMError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
        signed, probs = self.signed(images)
        if target == "positive":
            sign = np.ones(len(probs))
        elif target == "negative":
            sign = -np.ones(len(probs))
        else:
            sign = np.where(probs >= threshold, 1.0, -1.0)
        maps = np.maximum(signed * sign[:, None, None], 0.0)
        return CamBatch(normalise(maps), probs, sign)


def normalise(maps: np.ndarray) -> np.ndarray:
    """Per-map scaling to [0, 1]; an all-zero map stays all zero instead of dividing by zero."""
    peak = maps.reshape(len(maps), -1).max(axis=1) if len(maps) else np.zeros(0)
    return np.where(peak[:, None, None] > EPS, maps / np.maximum(peak, EPS)[:, None, None], 0.0).astype(np.float32)


def upsample(cam: np.ndarray, height: int, width: int) -> np.ndarray:
    """A (h, w) map resized bilinearly to an image's original resolution."""
    from PIL import Image

    return np.asarray(Image.fromarray(cam.astype(np.float32)).resize((width, height), Image.BILINEAR))
