"""Precision and XLA: images/s at 224 px for the feature pass, plain fit and cached fit, in each
precision with and without XLA, on whatever device TensorFlow sees (named in every line).

These are the figures that chose the defaults (`precision = "float32"`, `jit_compile = "auto"`). Each
ratio is a configuration's images/s over float32 without XLA for the same work, measured in the same
run; ≥ 1 means it pays there. Random weights and images: speed does not depend on them.
"""

from __future__ import annotations

import gc
import time
from dataclasses import replace

import numpy as np

from benchmarks.common import Result, median

SIZE = 224


def _rate(call, images: int, repeats: int = 3) -> float:
    call()  # traces (and compiles, with XLA) outside the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return images / median(times)


def _measure(precision, jit: bool, n: int) -> dict[str, float]:
    import keras
    import tensorflow as tf

    from medcam_core.config import BUILTIN_PRESETS
    from medcam_core.train.model import build_model, compile_model, split_frozen

    keras.backend.clear_session()
    gc.collect()
    preset = replace(BUILTIN_PRESETS["standard"], image_size=SIZE, weights="none", precision=precision)
    model = build_model(preset, None).model
    split, _ = split_frozen(model)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(n, SIZE, SIZE, 3)).astype(np.float32))
    labels = (np.arange(n) % 2).astype(np.float32)
    forward = tf.function(lambda x: split.frozen(x, training=False), jit_compile=jit)
    rates = {"feature_pass": _rate(lambda: [forward(images[i : i + 32]).numpy() for i in range(0, n, 32)], n)}
    compile_model(model, 1e-4, precision=precision, jit_compile=jit)
    plain = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
    rates["plain_fit"] = _rate(lambda: model.fit(plain, epochs=1, verbose=0), n)
    features = rng.normal(size=(16 * n, *split.frozen.output_shape[1:])).astype(np.float32)
    cached = tf.data.Dataset.from_tensor_slices((features, np.resize(labels, 16 * n))).batch(16)
    compile_model(split.head, 1e-4, precision=precision, jit_compile=jit)
    rates["cached_fit"] = _rate(lambda: split.head.fit(cached, epochs=1, verbose=0), 16 * n)
    return rates


def run(quick: bool = False) -> list[Result]:
    from medcam_core.job.environment import describe_device
    from medcam_core.vocabulary import Precision

    n = 32 if quick else 64
    device = describe_device()
    measured = {(p, jit): _measure(p, jit, n) for p in Precision for jit in (False, True)}
    base = measured[(Precision.FLOAT32, False)]
    results = []
    for (precision, jit), rates in measured.items():
        for work, rate in rates.items():
            results.append(
                Result(
                    f"{work}_{precision}{'_xla' if jit else ''}",
                    rate / base[work],
                    goal=1.0,
                    better="higher",
                    details={
                        "images_per_s": round(rate, 1),
                        "float32_images_per_s": round(base[work], 1),
                        "device": device,
                    },
                )
            )
    return results
