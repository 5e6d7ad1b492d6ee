"""The queue's jobs and their statuses, shared between the worker and whoever steers it.

One lock guards every read and write; every change is announced to listeners (the runner persists
it atomically and emits `QueueChanged`), so the progress file always matches what screens show.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medcam_core.config import Job, QueueConfig
from medcam_core.results import summarize
from medcam_core.serialize import write_json_atomic

PROGRESS_FILE = "densenet121_training_progress.json"

QUEUED, RUNNING, DONE, FAILED, CANCELLED, SKIPPED = (
    "queued",
    "running",
    "done",
    "failed",
    "cancelled",
    "skipped",
)
STATUSES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED, SKIPPED)
RETRYABLE = (FAILED, CANCELLED, SKIPPED)


@dataclass
class JobEntry:
    id: str
    dataset: str
    preset: str
    status: str = QUEUED
    stage: str = ""
    error: str = ""
    hint: str = ""
    started: float | None = None
    finished: float | None = None
    seconds: float | None = None
    epochs_run: int = 0
    folder: str = ""
    attempts: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)


class QueueError(ValueError):
    """A control request that does not apply (e.g. moving a job that already ran)."""


class JobQueue:
    def __init__(self, entries: list[JobEntry]) -> None:
        self._entries = entries
        self._lock = threading.RLock()
        self._listeners: list[Callable[[list[dict[str, Any]]], None]] = []

    @classmethod
    def from_config(cls, config: QueueConfig) -> JobQueue:
        return cls([_entry(job) for job in config.jobs()])

    @classmethod
    def resume(cls, config: QueueConfig, progress_path: Path) -> JobQueue:
        """Continue a queue from its progress file: finished stays finished, running re-queues."""
        fresh = cls.from_config(config)
        if not progress_path.is_file():
            for entry in fresh._entries:
                _recover_committed(entry, progress_path.parent)
            return fresh
        try:
            saved = json.loads(progress_path.read_text(encoding="utf-8"))["jobs"]
        except (OSError, ValueError, KeyError, TypeError):
            return fresh
        known = {job.id for job in config.all_jobs()}
        entries: list[JobEntry] = []
        for raw in saved:
            if not isinstance(raw, dict) or raw.get("id") not in known:
                continue
            entry = JobEntry(**{k: v for k, v in raw.items() if k in JobEntry.__dataclass_fields__})
            if entry.status == RUNNING:
                entry.status = QUEUED
            if entry.status == DONE and not (progress_path.parent / entry.folder).is_dir():
                entry.status, entry.error = QUEUED, ""
            entries.append(entry)
        seen = {e.id for e in entries}
        entries += [e for e in fresh._entries if e.id not in seen]
        for entry in entries:
            _recover_committed(entry, progress_path.parent)
        return cls(entries)

    def subscribe(self, listener: Callable[[list[dict[str, Any]]], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        snap = self.snapshot()
        for listener in self._listeners:
            listener(snap)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(e) for e in self._entries]

    def get(self, job_id: str) -> JobEntry:
        with self._lock:
            for e in self._entries:
                if e.id == job_id:
                    return e
        raise QueueError(f"no job {job_id!r} in the queue")

    def next_queued(self) -> JobEntry | None:
        with self._lock:
            return next((e for e in self._entries if e.status == QUEUED), None)

    def update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            entry = self.get(job_id)
            for key, value in changes.items():
                setattr(entry, key, value)
        self._changed()

    def move(self, job_id: str, delta: int) -> None:
        """Swap a queued job with the nearest queued neighbour; finished jobs keep their place."""
        with self._lock:
            entry = self.get(job_id)
            if entry.status != QUEUED:
                raise QueueError(f"only queued jobs move; {job_id} is {entry.status}")
            queued = [i for i, e in enumerate(self._entries) if e.status == QUEUED]
            pos = queued.index(self._entries.index(entry))
            target = pos + (1 if delta > 0 else -1)
            if not 0 <= target < len(queued):
                return
            a, b = queued[pos], queued[target]
            self._entries[a], self._entries[b] = self._entries[b], self._entries[a]
        self._changed()

    def remove(self, job_id: str) -> None:
        with self._lock:
            entry = self.get(job_id)
            if entry.status != QUEUED:
                raise QueueError(f"only queued jobs can be removed; {job_id} is {entry.status}")
            self._entries.remove(entry)
        self._changed()

    def retry(self, job_id: str) -> None:
        with self._lock:
            entry = self.get(job_id)
            if entry.status not in RETRYABLE:
                raise QueueError(f"only failed, cancelled or skipped jobs can be retried; {job_id} is {entry.status}")
            entry.status, entry.stage, entry.error, entry.hint = QUEUED, "", "", ""
        self._changed()

    def add(self, job: Job) -> None:
        """Queue a dataset × preset; a job that exists is retried instead, never trained twice."""
        with self._lock:
            existing = next((e for e in self._entries if e.id == job.id), None)
            if existing is None:
                self._entries.append(_entry(job))
            elif existing.status in RETRYABLE:
                self.retry(job.id)
                return
            else:
                raise QueueError(f"{job.id} is already {existing.status}")
        self._changed()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {s: sum(e.status == s for e in self._entries) for s in STATUSES}


def _recover_committed(entry: JobEntry, output: Path) -> None:
    """A queued job whose folder was committed (renamed into place whole) finished: never train it twice.

    This covers a kill between the folder's rename and the progress file's update.
    """
    metrics_file = output / entry.folder / "results" / "metrics.json"
    if entry.status != QUEUED or not metrics_file.is_file():
        return
    try:
        metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
        entry.metrics = summarize(metrics)
    except (OSError, ValueError, KeyError, TypeError):
        return
    entry.status, entry.stage, entry.error = DONE, "", ""
    entry.epochs_run = metrics.get("training", {}).get("epochs_run", entry.epochs_run)


def _entry(job: Job) -> JobEntry:
    return JobEntry(id=job.id, dataset=job.dataset.name, preset=job.preset.name, folder=job.folder_name)


def save_progress(path: Path, jobs: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    write_json_atomic(path, {**meta, "jobs": jobs})
