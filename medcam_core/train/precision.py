"""Precision and compilation of a job: the dtype policy its model is built in, and whether XLA runs.

The policy is set only while a job's model is built and restored after, so nothing else the
process builds inherits it; the layers keep the policy they were built with (and so do saved files).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

from medcam_core.vocabulary import AUTO, Precision


@contextlib.contextmanager
def dtype_policy(precision: Precision) -> Iterator[None]:
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(str(precision))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def xla(setting: bool | str) -> bool:
    """`jit_compile` resolved: "auto" means XLA where a GPU is visible and not on CPU, where a forward
    pass ran 0.90× (float32) and 0.70× (mixed_bfloat16) as fast with it (README: precision and XLA)."""
    if setting == AUTO:
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return bool(setting)


def optimizer(learning_rate: float, precision: Precision) -> keras.optimizers.Optimizer:
    """Adam; wrapped in dynamic loss scaling for float16, whose gradients would otherwise underflow."""
    adam = keras.optimizers.Adam(learning_rate)
    return keras.optimizers.LossScaleOptimizer(adam) if precision is Precision.MIXED_FLOAT16 else adam
