"""The keys that steer a live queue: start, pause and resume it, stop the running job as skipped or
cancelled, retry, reorder, remove and add jobs, and quit cleanly (the running job stops at its next
batch and re-queues). Attached read-only, each says so and does nothing.

A mixin of `MedcamApp`: it uses the app's runner, config, view and mode, its queue table, and
`run_queue` and `_refresh_header`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from medcam_core.config import QueueConfig
from medcam_core.jobqueue.runner import Runner
from medcam_core.jobqueue.state import QueueError
from medcam_core.vocabulary import Status
from medcam_tui.screens.modals import AddJob, ConfirmQuit
from medcam_tui.view_model import QueueView
from medcam_tui.widgets.queue_table import QueueTable

if TYPE_CHECKING:
    from textual.app import App

    _AppBase = App[int]
else:
    _AppBase = object


CONTROLS = frozenset({"toggle_pause", "skip", "cancel", "retry", "move", "remove", "add"})  # steer the queue


class QueueControls(_AppBase):
    config: QueueConfig | None
    runner: Runner | None
    view: QueueView
    mode: str
    exit_code: int
    _quitting: bool
    _stop_follow: threading.Event

    if TYPE_CHECKING:

        def run_queue(self) -> object: ...

        def _refresh_header(self) -> None: ...

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Read-only attach: the queue controls leave the footer and the palette, not merely refuse."""
        if action in CONTROLS and self.mode == "attach":
            return False
        return True

    def _controllable(self) -> bool:
        if self.mode == "attach" or self.runner is None:
            self.notify("attached read-only: steer the queue from the process that runs it", severity="warning")
            return False
        return True

    def _running_job(self) -> str | None:
        return self.view.current.job_id if self.view.current else None

    def action_toggle_pause(self) -> None:
        if not self._controllable():
            return
        assert self.runner is not None
        if self.mode == "idle":
            self.mode = "live"
            self.run_queue()
            self.notify("queue started")
        elif self.runner.control.paused:
            self.runner.resume()
            self.notify("queue resumed")
        else:
            self.runner.pause()
            self.notify("queue pauses after the current batch")
        self._refresh_header()

    def _stop(self, status: str) -> None:
        if not self._controllable():
            return
        job = self._running_job()
        if job is None:
            self.notify("no job is running", severity="warning")
            return
        assert self.runner is not None
        self.runner.stop_job(job, status)
        self.notify(f"{job} will be {status} after its current batch")

    def action_skip(self) -> None:
        self._stop(Status.SKIPPED)

    def action_cancel(self) -> None:
        self._stop(Status.CANCELLED)

    def _queue_call(self, method: str, *args: object) -> bool:
        if not self._controllable():
            return False
        job = self.query_one(QueueTable).selected_job
        if job is None:
            return False
        try:
            getattr(self.runner, method)(job, *args)
        except QueueError as exc:
            self.notify(str(exc), severity="warning")
            return False
        self._sync_queue()
        return True

    def _sync_queue(self) -> None:
        """Show a control change at once; the QueueChanged event that follows finds nothing to do."""
        assert self.runner is not None
        self.view.load_snapshot(self.runner.queue.snapshot())
        self.query_one(QueueTable).sync_rows(self.view)
        self._refresh_header()

    def action_retry(self) -> None:
        if self._queue_call("retry"):
            self.notify("job queued again")

    def action_move(self, delta: int) -> None:
        table = self.query_one(QueueTable)
        job = table.selected_job
        if self._queue_call("move", delta) and job is not None:
            table.move_cursor(row=table.get_row_index(job))

    def action_remove(self) -> None:
        self._queue_call("remove")

    def action_add(self) -> None:
        if not self._controllable() or self.config is None:
            return
        datasets = [d.name for d in self.config.datasets]

        def added(choice: tuple[str, str] | None) -> None:
            if choice is None or self.runner is None:
                return
            try:
                self.runner.add(*choice)
                self._sync_queue()
                self.notify(f"added {choice[0]} × {choice[1]}")
            except QueueError as exc:
                self.notify(str(exc), severity="warning")

        self.push_screen(AddJob(datasets, list(self.config.presets)), added)

    async def action_quit(self) -> None:
        worker_alive = any(w.name == "queue" and w.is_running for w in self.workers)
        if self.mode == "attach" or self.runner is None or not worker_alive:
            self._stop_follow.set()
            self.exit(self.exit_code)
            return
        job = self._running_job()

        def answer(yes: bool | None) -> None:
            if yes:
                self._stop_queue()

        if job is None:
            self._stop_queue()
        else:
            self.push_screen(ConfirmQuit(job), answer)

    def _stop_queue(self) -> None:
        assert self.runner is not None
        self._quitting = True
        self.runner.control.quit()
        self.notify("stopping after the current batch, then quitting…", timeout=30)
