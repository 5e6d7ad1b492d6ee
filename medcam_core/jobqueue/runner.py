"""Run the queue: it orders jobs, applies control, keeps the queue state and publishes events.

What happens inside one job is `medcam_core.job`'s: the same pipeline runs here and in workers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from medcam_core import __version__
from medcam_core.config import Job, QueueConfig
from medcam_core.errors import ConfigError, WeightsUnavailableError
from medcam_core.events import (
    Event,
    JobFailed,
    JobFinished,
    JobStarted,
    JobStopped,
    Notice,
    QueueChanged,
    QueueFinished,
    QueuePaused,
    QueueStarted,
    StageStarted,
)
from medcam_core.job.environment import JobEnvironment, gpu_count
from medcam_core.job.run import run_job
from medcam_core.jobqueue.control import QueueControl
from medcam_core.jobqueue.hooks import JobEndHook
from medcam_core.jobqueue.machine import MachineMonitor
from medcam_core.jobqueue.state import PROGRESS_FILE, JobQueue, save_progress
from medcam_core.vocabulary import Stage, Status

log = logging.getLogger("medcam")
Sink = Callable[[Event], None]
STOP_STATUS = {"cancelled": Status.CANCELLED, "skipped": Status.SKIPPED, "interrupted": Status.QUEUED}


class Runner:
    """Owns the queue state, the control and the sinks; `run()` executes until done or quit."""

    def __init__(
        self,
        config: QueueConfig,
        sinks: Iterable[Sink] = (),
        control: QueueControl | None = None,
        progress_throttle_s: float = 0.1,
        progress_path: Path | None = None,
    ) -> None:
        self.config = config
        self.output = config.output
        self.sinks = list(sinks)
        self.control = control or QueueControl()
        self.progress_path = progress_path or self.output / PROGRESS_FILE
        self.queue = JobQueue.resume(config, self.progress_path)
        self.queue.subscribe(self._persist)
        self._resume_notes = self.queue.take_notes()
        for note in self._resume_notes:  # in medcam.log even if the queue never starts
            log.warning("%s", note)
        self._started: set[str] = set()  # job ids this run started; a retry takes its id out again
        self.started = time.time()
        self.env = JobEnvironment(config, self.emit, self.publish, self.control, progress_throttle_s)
        self.on_job_end = JobEndHook(config.on_job_end, config.on_job_end_timeout, self.output)

    # -- sinks and persistence ----------------------------------------------------------------

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:  # a broken screen must never stop training
                log.exception("event sink %r failed", sink)

    @property
    def device(self) -> str:
        return self.env.device

    def _persist(self, jobs: list[dict[str, Any]]) -> None:
        meta = {
            "medcam_version": __version__,
            "source": self.config.source,
            "device": self.device,
            "started": self.started,
            "updated": time.time(),
        }
        save_progress(self.progress_path, jobs, meta)

    # -- control, callable from any thread ----------------------------------------------------

    def pause(self) -> None:
        self.control.pause()
        self.emit(QueuePaused(True))

    def resume(self) -> None:
        self.control.resume()
        self.emit(QueuePaused(False))

    def stop_job(self, job_id: str, status: str) -> None:
        self.control.stop_job(job_id, status)

    def move(self, job_id: str, delta: int) -> None:
        self.queue.move(job_id, delta)
        self.emit(QueueChanged(self.queue.snapshot()))

    def remove(self, job_id: str) -> None:
        self.queue.remove(job_id)
        self.emit(QueueChanged(self.queue.snapshot()))

    def retry(self, job_id: str) -> None:
        self.queue.retry(job_id)
        self._started.discard(job_id)
        self.emit(QueueChanged(self.queue.snapshot()))

    def add(self, dataset: str, preset: str) -> None:
        job = self.config.job_by_id(f"{dataset}_{preset}")
        self.queue.add(job)
        self._started.discard(job.id)
        self.emit(QueueChanged(self.queue.snapshot()))

    # -- the queue ----------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        """Run every queued job; returns the final status counts."""
        start = time.perf_counter()
        late = self.env.prepare()
        self.preflight()
        self._persist(self.queue.snapshot())
        self.emit(QueueStarted(self.queue.snapshot(), str(self.output), self.device, self.config.source))
        if late:
            self.emit(Notice("warning", late))
        for note in self._resume_notes:
            self.emit(Notice("warning", note))
        for spec in self.config.datasets:
            if not spec.path.is_dir():
                self.emit(
                    Notice("warning", f"dataset {spec.name!r}: folder not found: {spec.path}; its jobs will fail")
                )
        with MachineMonitor(self.output, self.emit):  # the machine panel's samples, while jobs run
            if self.config.executor == "local" and self.config.parallel == 1:
                self._run_here()
            else:
                from medcam_core.jobqueue.executors import RemoteJobs, make_transport

                RemoteJobs(self, make_transport(self.config, gpu_count()), self.config.parallel).run()
        self.env.cache.clear()
        counts = self.queue.counts()
        self.emit(QueueFinished(counts, time.perf_counter() - start, interrupted=self.control.quitting))
        return counts

    def _run_here(self) -> None:
        while not self.control.quitting:
            self.control.wait_while_paused()
            if self.control.quitting:
                break
            job = self.next_job()
            if job is None:
                break
            self._run_job(job)

    def next_job(self) -> Job | None:
        """The next queued job, taken for starting. One that this run already started, and that the
        user did not retry, fails instead: whatever re-queued it, no run starts a job twice."""
        while (entry := self.queue.next_queued()) is not None:
            if entry.id not in self._started:
                self._started.add(entry.id)
                return self.config.job_by_id(entry.id)
            self.publish(
                JobFailed(
                    entry.id,
                    "start",
                    f"{entry.id} was queued again after it had started in this run; it is not started twice",
                    "retry it to run it once more (r in the TUI)",
                    "",
                    0.0,
                )
            )
        return None

    def preflight(self) -> None:
        """Check once, before any job, what would fail every job alike (pretrained weights)."""
        from medcam_core.train.model import resolve_weights

        for name in {self.config.job_by_id(e["id"]).preset.name for e in self.queue.snapshot()}:
            try:
                resolve_weights(self.config.presets[name].weights)
            except WeightsUnavailableError as exc:
                raise ConfigError(self.config.source, f"presets.{name}.weights", str(exc)) from None

    def publish(self, event: Event) -> None:
        """A job event: what it means for the queue state (and the progress file), then the sinks.

        The one place queue state follows a job, whether the job runs here or in a worker whose
        events a remote driver passes on. `features` is a part of `fit`, not a stage of its own.
        """
        queue, now = self.queue, time.time()
        if isinstance(event, JobStarted):
            attempts = queue.get(event.job_id).attempts + 1
            queue.update(
                event.job_id, status=Status.RUNNING, started=now, stage=Stage.LOAD, error="", hint="", attempts=attempts
            )
        elif isinstance(event, StageStarted) and event.stage != Stage.FEATURES:
            queue.update(event.job_id, stage=event.stage)
        elif isinstance(event, JobFinished):
            queue.update(
                event.job_id,
                status=Status.DONE,
                stage="",
                finished=now,
                seconds=event.seconds,
                epochs_run=event.epochs_run,
                metrics=event.metrics,
            )
        elif isinstance(event, JobStopped):
            queue.update(
                event.job_id, status=STOP_STATUS[event.status], stage="", error=event.reason, seconds=event.seconds
            )
        elif isinstance(event, JobFailed):
            queue.update(
                event.job_id,
                status=Status.FAILED,
                stage=event.stage,
                error=event.error,
                hint=event.hint,
                finished=now,
                seconds=event.seconds,
            )
        self.emit(event)
        notice = self.on_job_end(event)  # after the job's own event: the command sees its state saved
        if notice is not None:
            self.emit(notice)

    def _run_job(self, job: Job) -> None:
        ids = [e["id"] for e in self.queue.snapshot()]
        run_job(job, self.env, (ids.index(job.id) + 1, len(ids)))
