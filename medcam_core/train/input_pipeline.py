"""tf.data over decoded images or cached features: never numpy straight into `fit`.

Sources are anything indexable by an index array with `shape` and `dtype` — scratch records on
disk or numpy arrays — read one batch at a time, so memory holds a few batches, not the dataset.
Images stay uint8 gray (S×S bytes each) until the pipeline turns each batch into the 3-channel
ImageNet-normalised float input.
"""

from __future__ import annotations

from typing import Any, Protocol

import keras
import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


class Indexable(Protocol):
    shape: tuple[int, ...]
    dtype: Any

    def __len__(self) -> int: ...

    def __getitem__(self, index: Any) -> np.ndarray: ...


def to_model_input(gray: tf.Tensor) -> tf.Tensor:
    """Gray (…, H, W) in 0–255, uint8 or float → float32 (…, H, W, 3) with DenseNet's ImageNet mean/std."""
    x = tf.cast(gray, tf.float32)[..., tf.newaxis]
    x = tf.repeat(x, 3, axis=-1)
    return keras.applications.densenet.preprocess_input(x)


def augmented(gray_uint8: tf.Tensor, augment: keras.Layer) -> tf.Tensor:
    """A batch of gray images through the augmentation layers: float (N, H, W) in 0–255 again."""
    x = tf.cast(gray_uint8, tf.float32)[..., tf.newaxis]
    return tf.clip_by_value(augment(x, training=True), 0.0, 255.0)[..., 0]


def even_batch(batch_size: int, replicas: int) -> int:
    """`batch_size` rounded up to a multiple of the replica count: the same share for every device."""
    return -(-batch_size // replicas) * replicas


def batches(
    values: Indexable,
    labels: np.ndarray | None,
    batch_size: int,
    shuffle: bool,
    seed: int,
    replicas: int = 1,
    views: int = 1,
) -> tf.data.Dataset:
    """Batches read from `values` (and `labels`), reshuffled each epoch when `shuffle`.

    `views` > 1: `values` holds that many versions of every image one after another (cached
    augmented views: record v·n + i is view v of image i); each epoch draws one of them per image,
    afresh every epoch, from a seeded stream.

    Indices are shuffled and batched in tf.data; each batch is then read by index in a parallel
    map, so reads overlap with each other and with training.

    With several replicas (a mirrored job) Keras 3 needs the first batch to split evenly among them
    (it averages that batch across devices to build the model) and no batch smaller than their
    count (a device with nothing fails); measured with TF 2.21. So the batch size is rounded up to
    a multiple of `replicas`; a shuffled split leaves its n mod replicas spare images out of each
    epoch (others each time); an unshuffled one ends on a batch of replicas + that remainder, so
    every image is scored.
    """
    n = len(values) // views
    size, spare = even_batch(batch_size, replicas), n % replicas
    if 0 < n < replicas or (spare and not shuffle and n < 2 * replicas):
        raise ValueError(f"a split of {n} images cannot be shared evenly among {replicas} devices")
    y = None if labels is None else np.asarray(labels, dtype=np.float32)
    x_dtype, x_shape = tf.as_dtype(values.dtype), (None, *values.shape[1:])
    ds = tf.data.Dataset.range(n)
    if views > 1:
        if not shuffle:
            raise ValueError("cached views are drawn for training only, which is shuffled")
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds.shuffle(n, seed=seed, reshuffle_each_iteration=True), draws)
        ds = ds.map(lambda i, r: i + n * tf.math.floormod(r, views)).take(n - spare).batch(size)
    elif shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True).take(n - spare).batch(size)
    elif spare:
        cut = n - replicas - spare
        ds = ds.take(cut).batch(size).concatenate(tf.data.Dataset.range(cut, n).batch(n - cut))
    else:
        ds = ds.batch(size)

    def read(index: tf.Tensor) -> Any:
        if y is None:
            x = tf.numpy_function(lambda i: values[i], [index], x_dtype, stateful=False)
            return tf.ensure_shape(x, x_shape)
        x, batch_y = tf.numpy_function(lambda i: (values[i], y[i % n]), [index], (x_dtype, tf.float32), stateful=False)
        return tf.ensure_shape(x, x_shape), tf.ensure_shape(batch_y, (None,))

    return ds.map(read, num_parallel_calls=AUTOTUNE)


def image_batches(
    images: Indexable,
    labels: np.ndarray | None,
    batch_size: int,
    shuffle: bool,
    seed: int,
    replicas: int = 1,
    augment: keras.Layer | None = None,
) -> tf.data.Dataset:
    """Model inputs; with `augment`, each batch goes through it first, one batch after another (not in
    parallel), so the layers' seeded draws fall on the same images every time."""
    ds = batches(images, labels, batch_size, shuffle, seed, replicas)
    labelled = labels is not None
    if augment is not None:
        ds = _map_images(ds, lambda x: augmented(x, augment), labelled, None)
    return _map_images(ds, to_model_input, labelled, AUTOTUNE).prefetch(AUTOTUNE)


def _map_images(ds: tf.data.Dataset, fn: Any, labelled: bool, parallel: int | None) -> tf.data.Dataset:
    """`fn` over each batch's images, its labels (when there are any) passed through."""
    return ds.map((lambda x, y: (fn(x), y)) if labelled else fn, num_parallel_calls=parallel)


def tensor_batches(
    values: Indexable,
    labels: np.ndarray | None,
    batch_size: int,
    shuffle: bool,
    seed: int,
    replicas: int = 1,
    views: int = 1,
) -> tf.data.Dataset:
    return batches(values, labels, batch_size, shuffle, seed, replicas, views).prefetch(AUTOTUNE)
