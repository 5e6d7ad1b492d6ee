"""What a process offers every job it runs: where to write, whom to tell, how to stop, what it has
already decoded — the same for the local queue and for a worker process."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medcam_core.config import QueueConfig
from medcam_core.data.load import LoadedDataset
from medcam_core.events import Event
from medcam_core.jobqueue.control import QueueControl
from medcam_core.outputs.job_folder import SCRATCH_DIR
from medcam_core.train.threads import apply_thread_settings

Sink = Callable[[Event], None]


def gpu_count() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def describe_device() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
        return ", ".join(names)
    return f"CPU ({os.cpu_count()} cores)"


@dataclass
class DatasetCache:
    """The decoded dataset and its frozen features, kept for the next job of the same dataset (the
    plan's two presets run back to back and share both)."""

    data: LoadedDataset | None = None
    data_key: tuple | None = None
    features: Any = None

    def clear(self) -> None:
        self.data = self.data_key = self.features = None


@dataclass
class JobEnvironment:
    """`emit` reaches the sinks; `publish` also updates the queue state (a job's own lifecycle events)."""

    config: QueueConfig
    emit: Sink
    publish: Sink
    control: QueueControl
    throttle_s: float = 0.1
    device: str = ""
    cache: DatasetCache = field(default_factory=DatasetCache)
    warned: set[str] = field(default_factory=set)  # presets already warned about random frozen weights

    @property
    def output(self) -> Path:
        return self.config.output

    @property
    def scratch(self) -> Path:
        return self.config.output / SCRATCH_DIR

    def prepare(self) -> str | None:
        """The output folder, TensorFlow's thread pools and the device, before any job of this process;
        a message when the thread settings came too late to apply."""
        self.output.mkdir(parents=True, exist_ok=True)
        late = apply_thread_settings(self.config.intra_op_threads, self.config.inter_op_threads)
        self.device = describe_device()
        return late
