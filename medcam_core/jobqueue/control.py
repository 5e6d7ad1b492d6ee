"""Signals from whoever steers the queue to the worker, read at batch boundaries.

The worker never blocks the caller: requests set flags under a lock; the training callback reads
them after each batch and leaves `fit` (StopRequested, see callbacks.py) or waits while paused.
"""

from __future__ import annotations

import threading

STOP_STATUSES = ("cancelled", "skipped", "interrupted")


class QueueControl:
    def __init__(self, paused: bool = False) -> None:
        self._cond = threading.Condition()
        self._paused = paused
        self._stop_job: tuple[str, str, str] | None = None
        self._quit = False

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def quitting(self) -> bool:
        return self._quit

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def stop_job(self, job_id: str, status: str = "cancelled", reason: str = "") -> None:
        """Stop `job_id` at its next batch boundary and mark it `status` (cancelled/skipped)."""
        if status not in STOP_STATUSES:
            raise ValueError(f"status must be one of {STOP_STATUSES}, got {status!r}")
        with self._cond:
            self._stop_job = (job_id, status, reason or f"{status} by user")
            self._cond.notify_all()

    def quit(self) -> None:
        """Stop the running job as interrupted (it re-queues) and start nothing new."""
        with self._cond:
            self._quit = True
            self._paused = False
            self._cond.notify_all()

    def stop_requested(self, job_id: str) -> tuple[str, str] | None:
        """(status, reason) when `job_id` must stop now, else None."""
        with self._cond:
            if self._quit:
                return ("interrupted", "the queue was stopped; the job will run again on next start")
            if self._stop_job and self._stop_job[0] == job_id:
                return (self._stop_job[1], self._stop_job[2])
            return None

    def clear_stop(self, job_id: str) -> None:
        with self._cond:
            if self._stop_job and self._stop_job[0] == job_id:
                self._stop_job = None

    def wait_while_paused(self, job_id: str | None = None, poll: float = 0.5) -> None:
        """Block the worker while paused; a stop request for this job or a quit wakes it."""
        with self._cond:
            while self._paused and not self._quit:
                if job_id and self._stop_job and self._stop_job[0] == job_id:
                    return
                self._cond.wait(poll)
