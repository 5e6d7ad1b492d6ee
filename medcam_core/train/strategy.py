"""One job over several devices of one machine: `strategy = "mirrored"` in the preset.

MirroredStrategy keeps a copy of the model on each device and splits every batch among them, so
`batch_size` is the global batch. Where the machine has no GPU it mirrors over the logical CPU
devices TensorFlow was configured with (one, unless the process split the CPU before its first op),
which is how this is tested. `pipeline.batches`, told the replica count, makes the batches Keras 3
can split among them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from medcam_core.train.input_pipeline import even_batch

_STRATEGIES: dict[tuple[str, ...], tf.distribute.Strategy] = {}


def mirrored() -> tuple[tf.distribute.Strategy, list[str]]:
    """The strategy over every GPU, or over the logical CPU devices when there is none.

    One per process and device set, shared by every job: each new MirroredStrategy numbers its
    all-reduce instances from the same start, and the runtime still holds the previous model's
    shapes under those numbers, so a queue's second traced job failed with "Shape mismatch in the
    collective instance 100" (tensorflow/tensorflow#62790).
    """
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    names = [d.name for d in devices]
    key = tuple(names)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = tf.distribute.MirroredStrategy(names)
    return _STRATEGIES[key], names


def job_scope(name: str, batch_size: int, say: Callable[[str], None]) -> contextlib.AbstractContextManager[Any]:
    """The scope a job builds, trains, evaluates and explains its model in; says where it runs."""
    if name == "default":
        return contextlib.nullcontext()
    strategy, devices = mirrored()
    n = len(devices)
    if n == 1:
        say(f"strategy = mirrored: only one device ({devices[0]}) is visible, so it trains as the default would")
    else:
        size = even_batch(batch_size, n)
        rounded = f" (batch_size {batch_size} rounded up to a multiple of {n})" if size != batch_size else ""
        listed = ", ".join(devices)
        say(f"strategy = mirrored over {n} devices ({listed}): {size // n} images per device per batch{rounded}")
    return strategy.scope()


def replicas() -> int:
    """Copies of the model one batch is split among, under the scope the caller runs in."""
    return tf.distribute.get_strategy().num_replicas_in_sync
