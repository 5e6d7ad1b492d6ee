"""What the screens show, rebuilt from engine events alone.

Live and attached sessions feed the same events through `QueueView.apply`, so both look the same;
times come from event timestamps, never the wall clock, so a replayed log renders identically.
`apply` returns what changed (`Changes`), so the app touches only those widgets.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from medcam_core.events import (
    BatchProgress,
    DatasetLoaded,
    EpochEnded,
    EpochStarted,
    Event,
    JobFailed,
    JobFinished,
    JobStarted,
    JobStopped,
    MachineSampled,
    ModelBuilt,
    Notice,
    QueueChanged,
    QueueFinished,
    QueuePaused,
    QueueStarted,
    StageProgress,
    StageStarted,
)
from medcam_core.vocabulary import Stage, Status, better

# what JobStarted says when it does not name a monitor (an older log): the presets' default
DEFAULT_MONITOR = "val_loss"

HISTORY_LIMIT = 300
CURVES = ("loss", "val_loss", "accuracy", "val_accuracy")


class Part(Enum):
    """A widget-level part of the screen an event can change (rows are named by job id instead)."""

    ORDER = "order"  # the table's rows and their order
    PANEL = "panel"  # the running job's panel
    MACHINE = "machine"
    FAILURES = "failures"
    NOTICE = "notice"


@dataclass(frozen=True)
class Changes:
    """What one event changed, so the app updates only those widgets: parts, and table rows by job id."""

    parts: frozenset[Part] = frozenset()
    rows: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *parts: Part, row: str | None = None) -> Changes:
        return cls(frozenset(parts), frozenset({row} if row else ()))

    def __or__(self, other: Changes) -> Changes:
        return Changes(self.parts | other.parts, self.rows | other.rows)

    def __contains__(self, part: Part) -> bool:
        return part in self.parts


@dataclass
class Curve:
    """A bounded series with its best point, better as Keras' monitors judge it (a loss is minimised);
    NaN/inf never enter it."""

    name: str
    values: deque = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))
    best: float | None = None
    best_epoch: int | None = None

    def add(self, epoch: int, value: float | None) -> None:
        if value is None or not math.isfinite(value):
            return
        self.values.append(value)
        if better(self.name, value, self.best):
            self.best, self.best_epoch = value, epoch

    @property
    def current(self) -> float | None:
        return self.values[-1] if self.values else None


@dataclass
class JobView:
    id: str
    dataset: str
    preset: str
    status: str = Status.QUEUED
    epochs: int = 0
    epoch: int = 0
    stage: str = ""
    best_value: float | None = None
    best_epoch: int | None = None
    monitor: str = DEFAULT_MONITOR  # which validation value best_value is: the job's preset's
    test_accuracy: float | None = None
    test_auc: float | None = None
    auc_ci: list[float] | None = None
    started: float | None = None
    seconds: float | None = None
    eta: float | None = None
    folder: str = ""
    error: str = ""
    hint: str = ""
    epoch_seconds: list[float] = field(default_factory=list)


@dataclass
class Failure:
    job_id: str
    stage: str
    error: str
    hint: str
    traceback: str


@dataclass
class CurrentJob:
    job_id: str
    stage: str = ""
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    images_per_s: float | None = None
    batch_loss: float | None = None
    epoch_eta: float | None = None
    epoch_started: float | None = None
    learning_rate: float | None = None
    training_path: str = ""
    curves: dict[str, Curve] = field(default_factory=lambda: {n: Curve(n) for n in CURVES})


class QueueView:
    """The app's single source of display truth."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.jobs: dict[str, JobView] = {}
        self.live: dict[str, CurrentJob] = {}  # every running job, in the order they started
        self.focus: str | None = None  # the job selected in the queue table
        self.failures: list[Failure] = []
        self.notices: list[Notice] = []
        self.device = ""
        self.output = ""
        self.paused = False
        self.finished = False
        self.interrupted = False
        self.last_time: float | None = None
        self.machine: MachineSampled | None = None  # the latest sample of the machine under the queue

    # -- derived -----------------------------------------------------------------------------

    @property
    def current(self) -> CurrentJob | None:
        """The running job the panel shows: the one selected in the table, else the latest started."""
        if self.focus in self.live:
            return self.live[self.focus]
        return next(reversed(self.live.values()), None)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for job in self.jobs.values():
            out[job.status] = out.get(job.status, 0) + 1
        return out

    def mean_epoch_seconds(self) -> float | None:
        samples = [s for job in self.jobs.values() for s in job.epoch_seconds]
        return sum(samples) / len(samples) if samples else None

    def job_overhead_seconds(self) -> float:
        """Load, build, evaluate and save time per job: what epochs do not account for.

        From finished jobs when there are any, else what the running job spent outside epochs so far.
        """
        spans = [
            job.seconds - sum(job.epoch_seconds)
            for job in self.jobs.values()
            if job.status == Status.DONE and job.seconds is not None and job.epoch_seconds
        ]
        if not spans and self.last_time is not None:
            spans = [
                self.last_time - job.started - sum(job.epoch_seconds)
                for job in self.jobs.values()
                if job.status == Status.RUNNING and job.started is not None
            ]
        return max(0.0, sum(spans) / len(spans)) if spans else 0.0

    def queue_eta(self) -> float | None:
        """Seconds left if every queued job runs all its epochs: an upper bound under early stopping."""
        per_epoch = self.mean_epoch_seconds()
        if per_epoch is None:
            return None
        running = sum(j.eta or 0.0 for j in self.jobs.values() if j.status == Status.RUNNING)
        queued = [j for j in self.jobs.values() if j.status == Status.QUEUED]
        return running + sum(j.epochs * per_epoch + self.job_overhead_seconds() for j in queued)

    # -- events -------------------------------------------------------------------------------

    def load_snapshot(self, jobs: list[dict[str, Any]]) -> None:
        """Adopt the queue's membership and order (statuses included) from a snapshot."""
        order = []
        for raw in jobs:
            job = self.jobs.get(raw["id"]) or JobView(raw["id"], raw["dataset"], raw["preset"])
            job.status = raw.get("status", job.status)
            job.error, job.stage = raw.get("error", ""), raw.get("stage", "")
            job.folder = raw.get("folder", job.folder)
            metrics = raw.get("metrics") or {}
            if metrics:
                job.test_accuracy, job.test_auc = metrics.get("accuracy"), metrics.get("auroc")
                job.auc_ci = metrics.get("auroc_ci")
                job.best_epoch = metrics.get("best_epoch")
            job.seconds = raw.get("seconds", job.seconds)
            job.epoch = raw.get("epochs_run") or job.epoch
            self.jobs[job.id] = job
            order.append(job.id)
        for gone in set(self.jobs) - set(order):
            del self.jobs[gone]
        self.order = order

    def apply(self, event: Event) -> Changes:
        """Update from one event; return what changed (the header always may: it shows times)."""
        self.last_time = event.time
        handler = getattr(self, f"_on_{event.kind}", None)
        return handler(event) if handler else Changes()

    def _on_queue_started(self, e: QueueStarted) -> Changes:
        self.device, self.output = e.device, e.output
        self.finished = self.interrupted = False
        self.load_snapshot(e.jobs)
        return Changes.of(Part.ORDER)

    def _on_queue_changed(self, e: QueueChanged) -> Changes:
        self.load_snapshot(e.jobs)
        return Changes.of(Part.ORDER)

    def _on_queue_paused(self, e: QueuePaused) -> Changes:
        self.paused = e.paused
        return Changes()

    def _on_queue_finished(self, e: QueueFinished) -> Changes:
        self.finished, self.interrupted = True, e.interrupted
        self.live.clear()
        return Changes.of(Part.PANEL, Part.MACHINE)  # the machine panel's sample becomes the last one

    def _on_machine_sampled(self, e: MachineSampled) -> Changes:
        self.machine = e
        return Changes.of(Part.MACHINE)

    def _on_notice(self, e: Notice) -> Changes:
        self.notices.append(e)
        return Changes.of(Part.NOTICE)

    def _job(self, job_id: str) -> JobView:
        if job_id not in self.jobs:
            dataset, _, preset = job_id.rpartition("_")
            self.jobs[job_id] = JobView(job_id, dataset, preset)
            self.order.append(job_id)
        return self.jobs[job_id]

    def _on_job_started(self, e: JobStarted) -> Changes:
        job = self._job(e.job_id)
        job.status, job.epochs, job.epoch, job.started = Status.RUNNING, e.epochs, 0, e.time
        job.monitor = e.monitor
        job.error = job.hint = ""
        job.best_value = job.best_epoch = job.test_accuracy = job.test_auc = job.auc_ci = None
        job.epoch_seconds = []
        self.live[e.job_id] = CurrentJob(e.job_id, epochs=e.epochs)
        return Changes.of(Part.PANEL, row=e.job_id)

    def _panel(self, job_id: str) -> Changes:
        """The panel, when it shows this job."""
        c = self.current
        return Changes.of(Part.PANEL) if c is not None and c.job_id == job_id else Changes()

    def _on_stage_started(self, e: StageStarted) -> Changes:
        self._job(e.job_id).stage = e.stage
        c = self.live.get(e.job_id)
        if c:
            c.stage, c.batch, c.batches = e.stage, 0, 0
        return Changes.of(row=e.job_id) | self._panel(e.job_id)

    def _on_stage_progress(self, e: StageProgress) -> Changes:
        c = self.live.get(e.job_id)
        if c:
            c.stage, c.batch, c.batches = e.stage, e.done, e.total
        return self._panel(e.job_id)

    def _on_dataset_loaded(self, e: DatasetLoaded) -> Changes:
        return Changes()

    def _on_model_built(self, e: ModelBuilt) -> Changes:
        c = self.live.get(e.job_id)
        if c:
            c.training_path = e.training_path
        return self._panel(e.job_id)

    def _on_epoch_started(self, e: EpochStarted) -> Changes:
        job = self._job(e.job_id)
        job.epoch, job.epochs, job.stage = e.epoch, e.epochs, Stage.FIT
        c = self.live.get(e.job_id)
        if c:
            c.stage, c.epoch, c.epochs, c.batch, c.batches = Stage.FIT, e.epoch, e.epochs, 0, e.batches
            c.epoch_started, c.epoch_eta = e.time, None
        return Changes.of(row=e.job_id) | self._panel(e.job_id)

    def _on_batch_progress(self, e: BatchProgress) -> Changes:
        c = self.live.get(e.job_id)
        if not c:
            return Changes()
        c.batch, c.batches, c.images_per_s, c.batch_loss = e.batch, e.batches, e.images_per_s, e.loss
        job = self.jobs[e.job_id]
        if c.epoch_started is not None and e.batch:
            c.epoch_eta = (e.time - c.epoch_started) / e.batch * max(0, e.batches - e.batch)
        job.eta = self._job_eta(job, c.epoch_eta)
        return Changes.of(row=e.job_id) | self._panel(e.job_id)

    def _job_eta(self, job: JobView, epoch_left: float | None) -> float | None:
        if not job.epoch_seconds:
            return None
        mean = sum(job.epoch_seconds) / len(job.epoch_seconds)
        return (epoch_left or 0.0) + max(0, job.epochs - job.epoch) * mean

    def _on_epoch_ended(self, e: EpochEnded) -> Changes:
        job = self._job(e.job_id)
        job.epoch, job.epochs = e.epoch, e.epochs
        job.epoch_seconds.append(e.seconds)
        value = e.logs.get(job.monitor)  # the preset's monitor, never guessed from which logs exist
        if value is not None and math.isfinite(value) and better(job.monitor, value, job.best_value):
            job.best_value, job.best_epoch = value, e.epoch
        job.eta = self._job_eta(job, 0.0)
        c = self.live.get(e.job_id)
        if c:
            c.learning_rate, c.epoch_eta = e.learning_rate, None
            for name in CURVES:
                c.curves[name].add(e.epoch, e.logs.get(name))
        return Changes.of(row=e.job_id) | self._panel(e.job_id)

    def _on_job_finished(self, e: JobFinished) -> Changes:
        job = self._job(e.job_id)
        job.status, job.stage, job.seconds, job.eta, job.folder = Status.DONE, "", e.seconds, None, e.folder
        job.test_accuracy, job.test_auc = e.metrics.get("accuracy"), e.metrics.get("auroc")
        job.auc_ci = e.metrics.get("auroc_ci")
        job.epoch = e.epochs_run
        return self._ended(e.job_id)

    def _ended(self, job_id: str) -> Changes:
        """The job leaves the panel (the table keeps its row); the panel moves to another running one."""
        changed = Changes.of(row=job_id) | self._panel(job_id)
        self.live.pop(job_id, None)
        return changed

    def _on_job_failed(self, e: JobFailed) -> Changes:
        job = self._job(e.job_id)
        job.status, job.stage, job.seconds, job.eta = Status.FAILED, e.stage, e.seconds, None
        job.error, job.hint = e.error, e.hint
        self.failures.append(Failure(e.job_id, e.stage, e.error, e.hint, e.traceback))
        return self._ended(e.job_id) | Changes.of(Part.FAILURES)

    def _on_job_stopped(self, e: JobStopped) -> Changes:
        job = self._job(e.job_id)
        job.status = Status.QUEUED if e.status == "interrupted" else e.status  # interrupted: re-queued
        job.stage, job.seconds, job.eta, job.error = "", e.seconds, None, e.reason
        return self._ended(e.job_id)
