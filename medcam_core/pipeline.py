"""tf.data over decoded images or cached features: never numpy straight into `fit`.

Images stay uint8 gray in memory (S×S bytes each); conversion to the 3-channel ImageNet-normalised
float input happens per batch inside the pipeline, so memory holds a quarter-byte per input value.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def to_model_input(gray_uint8: tf.Tensor) -> tf.Tensor:
    """uint8 (…, H, W) gray → float32 (…, H, W, 3) with DenseNet's ImageNet mean/std."""
    x = tf.cast(gray_uint8, tf.float32)[..., tf.newaxis]
    x = tf.repeat(x, 3, axis=-1)
    return keras.applications.densenet.preprocess_input(x)


def _batched(ds: tf.data.Dataset, n: int, batch_size: int, shuffle: bool, seed: int) -> tf.data.Dataset:
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size)


def image_batches(
    images: np.ndarray, labels: np.ndarray | None, batch_size: int, shuffle: bool, seed: int
) -> tf.data.Dataset:
    if labels is None:
        ds = tf.data.Dataset.from_tensor_slices(images)
        ds = _batched(ds, len(images), batch_size, shuffle, seed).map(to_model_input, num_parallel_calls=AUTOTUNE)
    else:
        ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.float32)))
        ds = _batched(ds, len(images), batch_size, shuffle, seed).map(
            lambda x, y: (to_model_input(x), y), num_parallel_calls=AUTOTUNE
        )
    return ds.prefetch(AUTOTUNE)


def tensor_batches(
    values: np.ndarray, labels: np.ndarray | None, batch_size: int, shuffle: bool, seed: int
) -> tf.data.Dataset:
    parts = values if labels is None else (values, labels.astype(np.float32))
    ds = tf.data.Dataset.from_tensor_slices(parts)
    return _batched(ds, len(values), batch_size, shuffle, seed).prefetch(AUTOTUNE)
