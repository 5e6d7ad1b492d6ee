"""Grad-CAM throughput: one traced function over batches vs the one-image eager recipe, same model.

The seeds' recipe builds a GradientTape per image in eager mode; ours traces once and runs batches.
DenseNet121 (random weights: speed does not depend on them) at 224 px on the `relu` layer.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Result


def run(quick: bool = False) -> list[Result]:
    import tensorflow as tf

    from medcam_core.config import BUILTIN_PRESETS
    from medcam_core.explain.cam import GradCAM
    from medcam_core.train.model import build_model

    size = 224
    model = build_model(
        BUILTIN_PRESETS["standard"].__class__(name="bench", image_size=size, weights="none"), None
    ).model
    n = 16 if quick else 64
    images = np.random.default_rng(0).random((n, size, size, 3)).astype(np.float32)

    cam = GradCAM(model, batch_size=16)
    start = time.perf_counter()
    cam(images[:16], target="positive")
    trace_s = time.perf_counter() - start
    start = time.perf_counter()
    cam(images, target="positive")
    batched = n / (time.perf_counter() - start)

    grad_model = cam._grad_model
    head = model.layers[-1]
    eager_n = 4 if quick else 8
    start = time.perf_counter()
    for image in images[:eager_n]:
        with tf.GradientTape() as tape:
            fmap, pre = grad_model(image[None], training=False)
            logit = tf.matmul(pre, head.kernel) + head.bias
        grads = tape.gradient(logit, fmap)
        weights = tf.reduce_mean(grads, axis=(1, 2))
        _ = tf.nn.relu(tf.reduce_sum(fmap * weights[:, None, None, :], axis=-1)).numpy()
    eager = eager_n / (time.perf_counter() - start)
    return [
        Result(
            "gradcam_batched_vs_eager",
            batched / eager,
            goal=5.0,
            better="higher",
            details={
                "batched_img_per_s": round(batched, 1),
                "eager_img_per_s": round(eager, 2),
                "trace_s": round(trace_s, 1),
                "images": n,
                "image_size": size,
            },
        )
    ]
