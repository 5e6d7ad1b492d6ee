"""The engine's only output: small frozen records, one JSON line each.

The TUI, the console and a second process following `events.jsonl` all rebuild their view from this
stream, so every field a screen shows must travel here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from medcam_core.serialize import dumps, to_jsonable

_REGISTRY: dict[str, type[Event]] = {}


@dataclass(frozen=True)
class Event:
    time: float = field(default_factory=time.time, kw_only=True)
    kind: ClassVar[str] = "event"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.kind] = cls

    def to_json(self) -> str:
        body = {"type": self.kind}
        body.update({f.name: to_jsonable(getattr(self, f.name)) for f in fields(self)})
        return dumps(body)

    @staticmethod
    def from_json(line: str) -> Event:
        data = json.loads(line)
        cls = _REGISTRY[data.pop("type")]
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class QueueStarted(Event):
    kind: ClassVar[str] = "queue_started"
    jobs: list[dict[str, Any]]
    output: str
    device: str
    source: str


@dataclass(frozen=True)
class QueueChanged(Event):
    """The pending order or membership changed (reorder, add, remove, retry)."""

    kind: ClassVar[str] = "queue_changed"
    jobs: list[dict[str, Any]]


@dataclass(frozen=True)
class QueuePaused(Event):
    kind: ClassVar[str] = "queue_paused"
    paused: bool


@dataclass(frozen=True)
class Notice(Event):
    """Something the user should read once (a preflight warning, a fallback taken)."""

    kind: ClassVar[str] = "notice"
    level: str
    message: str
    job_id: str | None = None


@dataclass(frozen=True)
class JobStarted(Event):
    kind: ClassVar[str] = "job_started"
    job_id: str
    dataset: str
    preset: str
    index: int
    total: int
    epochs: int
    monitor: str = "val_loss"  # which validation value is "best" for this job (its preset's)


@dataclass(frozen=True)
class StageStarted(Event):
    kind: ClassVar[str] = "stage_started"
    job_id: str
    stage: str


@dataclass(frozen=True)
class StageProgress(Event):
    """Progress inside a long stage that is not an epoch (decoding images, the feature pass)."""

    kind: ClassVar[str] = "stage_progress"
    job_id: str
    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class DatasetLoaded(Event):
    kind: ClassVar[str] = "dataset_loaded"
    job_id: str
    counts: dict[str, dict[str, int]]
    patients: dict[str, int]
    skipped: int
    skipped_reasons: dict[str, int]
    seconds: float


@dataclass(frozen=True)
class ModelBuilt(Event):
    kind: ClassVar[str] = "model_built"
    job_id: str
    total_params: int
    trainable_params: int
    first_trainable: str
    trainable_layers: int
    training_path: str
    seconds: float


@dataclass(frozen=True)
class EpochStarted(Event):
    kind: ClassVar[str] = "epoch_started"
    job_id: str
    epoch: int
    epochs: int
    batches: int


@dataclass(frozen=True)
class BatchProgress(Event):
    kind: ClassVar[str] = "batch_progress"
    job_id: str
    epoch: int
    batch: int
    batches: int
    images_per_s: float
    loss: float | None


@dataclass(frozen=True)
class EpochEnded(Event):
    kind: ClassVar[str] = "epoch_ended"
    job_id: str
    epoch: int
    epochs: int
    logs: dict[str, float | None]
    learning_rate: float | None
    seconds: float


@dataclass(frozen=True)
class JobFinished(Event):
    kind: ClassVar[str] = "job_finished"
    job_id: str
    metrics: dict[str, Any]
    best_epoch: int | None
    epochs_run: int
    seconds: float
    folder: str


@dataclass(frozen=True)
class JobFailed(Event):
    kind: ClassVar[str] = "job_failed"
    job_id: str
    stage: str
    error: str
    hint: str
    traceback: str
    seconds: float


@dataclass(frozen=True)
class JobStopped(Event):
    """Cancelled, skipped or interrupted at a batch boundary by a control request."""

    kind: ClassVar[str] = "job_stopped"
    job_id: str
    status: str
    reason: str
    seconds: float


@dataclass(frozen=True)
class QueueFinished(Event):
    kind: ClassVar[str] = "queue_finished"
    counts: dict[str, int]
    seconds: float
    interrupted: bool = False


@dataclass(frozen=True)
class MachineSampled(Event):
    """The machine while the queue runs, every ~2 s (`jobqueue.machine`): bytes, percent, °C.

    `children_rss` is the worker processes' resident memory (zero when jobs run in this process);
    `gpus` holds one `GpuReading` per GPU as a dict, empty without NVIDIA's management library.
    """

    kind: ClassVar[str] = "machine_sampled"
    cpu_percent: float
    process_rss: int
    children_rss: int
    memory_used: int
    memory_total: int
    disk_free: int
    disk_total: int
    gpus: list[dict[str, Any]] = field(default_factory=list)
