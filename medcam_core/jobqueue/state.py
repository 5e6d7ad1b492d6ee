"""The queue's jobs and their statuses, shared between the worker and whoever steers it.

One lock guards every read and write; every change is announced to listeners (the runner persists
it atomically and emits `QueueChanged`), so the progress file always matches what screens show.
The job folders are the ground truth: a progress file that cannot be read is kept aside and the
state rebuilt from them, and a job only counts as done while its folder holds its model.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medcam_core.config import Job, QueueConfig
from medcam_core.outputs.job_folder import JobFolder
from medcam_core.outputs.results import read_metrics, summarize
from medcam_core.serialize import write_json_atomic
from medcam_core.vocabulary import RETRYABLE, Status

PROGRESS_FILE = "densenet121_training_progress.json"

# The old spellings, for modules not yet switched to `Status` (runner.py, executors.py): use Status.X.
DAMAGED_SUFFIX = ".damaged"
_STATUS_TEXTS = frozenset(status.value for status in Status)
_NUMBER = (int, float, type(None))
_ENTRY_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "dataset": (str,),
    "preset": (str,),
    "status": (str,),
    "folder": (str,),
    "stage": (str,),
    "error": (str,),
    "hint": (str,),
    "started": _NUMBER,
    "finished": _NUMBER,
    "seconds": _NUMBER,
    "epochs_run": (int,),
    "attempts": (int,),
    "metrics": (dict,),
}
_REQUIRED = ("id", "dataset", "preset", "status", "folder")


@dataclass
class JobEntry:
    id: str
    dataset: str
    preset: str
    status: Status = Status.QUEUED
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


class ProgressDamaged(ValueError):
    """A progress file that exists but does not hold a queue state (torn, garbage, wrong shape)."""


def read_progress(path: Path) -> dict[str, Any]:
    """The progress file's content, checked entry by entry, so no reader trips over a damaged one."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ProgressDamaged(f"cannot be read: {exc.strerror or exc}") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError both
        raise ProgressDamaged(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise ProgressDamaged("not a JSON object with a list of jobs")
    ids: set[str] = set()
    for n, raw in enumerate(data["jobs"], 1):
        if not isinstance(raw, dict):
            raise ProgressDamaged(f"job entry {n} is not an object")
        problems = [f"no {key}" for key in _REQUIRED if key not in raw]
        problems += [
            f"{key} is a {type(raw[key]).__name__}"
            for key, types in _ENTRY_TYPES.items()
            if key in raw and not isinstance(raw[key], types)
        ]
        if not problems and raw["status"] not in _STATUS_TEXTS:
            problems.append(f"unknown status {raw['status']!r}")
        if not problems and raw["id"] in ids:
            problems.append(f"{raw['id']} listed twice")
        if problems:
            raise ProgressDamaged(f"job entry {n}: {', '.join(problems)}")
        ids.add(raw["id"])
    return data


def _keep_aside(path: Path) -> str:
    """Rename a damaged progress file out of the way, never over an earlier one: nothing is lost."""
    target, n = path.with_name(path.name + DAMAGED_SUFFIX), 1
    while target.exists():
        target, n = path.with_name(f"{path.name}{DAMAGED_SUFFIX}.{n}"), n + 1
    try:
        path.rename(target)
    except OSError as exc:
        return f"it could not be kept aside ({exc.strerror or exc})"
    return f"it was kept aside as {target.name}"


class JobQueue:
    def __init__(self, entries: list[JobEntry], notes: list[str] | None = None) -> None:
        self._entries = entries
        self._lock = threading.RLock()
        self._listeners: list[Callable[[list[dict[str, Any]]], None]] = []
        self._notes = notes or []

    @classmethod
    def from_config(cls, config: QueueConfig) -> JobQueue:
        return cls([_entry(job) for job in config.jobs()])

    @classmethod
    def resume(cls, config: QueueConfig, progress_path: Path) -> JobQueue:
        """Continue a queue from its progress file: finished stays finished, running re-queues.

        Without a readable file the committed job folders say what finished; what went wrong is kept
        as notes for the runner to announce (`take_notes`).
        """
        output, notes = progress_path.parent, []
        entries = [_entry(job) for job in config.jobs()]
        if progress_path.is_file():
            try:
                saved = read_progress(progress_path)["jobs"]
            except ProgressDamaged as exc:
                notes.append(
                    f"{progress_path.name} was unreadable ({exc}); {_keep_aside(progress_path)}, "
                    "and the queue state was rebuilt from the job folders"
                )
            else:
                known = {job.id for job in config.all_jobs()}
                fields = JobEntry.__dataclass_fields__
                restored = [JobEntry(**{k: raw[k] for k in fields if k in raw}) for raw in saved if raw["id"] in known]
                for entry in restored:
                    entry.status = Status(entry.status)
                    if entry.status == Status.RUNNING:
                        entry.status = Status.QUEUED
                seen = {e.id for e in restored}
                entries = restored + [e for e in entries if e.id not in seen]
        notes += [note for entry in entries if (note := _settle(entry, output))]
        return cls(entries, notes)

    def take_notes(self) -> list[str]:
        """What resuming found wrong on disk, once: the runner announces it as notices."""
        with self._lock:
            notes, self._notes = self._notes, []
        return notes

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
            return next((e for e in self._entries if e.status == Status.QUEUED), None)

    def update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            entry = self.get(job_id)
            for key, value in changes.items():
                setattr(entry, key, Status(value) if key == "status" else value)
        self._changed()

    def move(self, job_id: str, delta: int) -> None:
        """Swap a queued job with the nearest queued neighbour; finished jobs keep their place."""
        with self._lock:
            entry = self.get(job_id)
            if entry.status != Status.QUEUED:
                raise QueueError(f"only queued jobs move; {job_id} is {entry.status}")
            queued = [i for i, e in enumerate(self._entries) if e.status == Status.QUEUED]
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
            if entry.status != Status.QUEUED:
                raise QueueError(f"only queued jobs can be removed; {job_id} is {entry.status}")
            self._entries.remove(entry)
        self._changed()

    def retry(self, job_id: str) -> None:
        with self._lock:
            entry = self.get(job_id)
            if entry.status not in RETRYABLE:
                raise QueueError(f"only failed, cancelled or skipped jobs can be retried; {job_id} is {entry.status}")
            entry.status, entry.stage, entry.error, entry.hint = Status.QUEUED, "", "", ""
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
            return {s.value: sum(e.status == s for e in self._entries) for s in Status}


def _settle(entry: JobEntry, output: Path) -> str | None:
    """Make an entry agree with its job folder, the ground truth; a note when that changed a finished job.

    A done job whose model is gone trains again. A queued job whose folder was committed (renamed into
    place whole) finished: never train it twice. That covers a kill between the folder's rename and
    the progress file's update, and a progress file that was lost or unreadable.
    """
    folder = JobFolder.committed(output, entry.folder)
    has_model = folder.has_model()
    if entry.status == Status.DONE and not has_model:
        entry.status, entry.error = Status.QUEUED, ""
        lost = "its folder is gone" if not folder.root.is_dir() else f"{JobFolder.MODEL} is missing from {entry.folder}"
        return f"{entry.id} had finished but {lost}: it is queued to train again"
    if entry.status != Status.QUEUED or not folder.metrics_file.is_file():
        return None
    if not has_model:
        return f"{entry.folder} holds results but no {JobFolder.MODEL}: {entry.id} is queued to train again"
    try:
        metrics = read_metrics(folder)
        entry.metrics = dict(summarize(metrics))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    entry.status, entry.stage, entry.error = Status.DONE, "", ""
    entry.epochs_run = metrics.get("training", {}).get("epochs_run", entry.epochs_run)
    return None


def _entry(job: Job) -> JobEntry:
    return JobEntry(id=job.id, dataset=job.dataset.name, preset=job.preset.name, folder=job.folder_name)


def save_progress(path: Path, jobs: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    write_json_atomic(path, {**meta, "jobs": jobs})
