"""Telling the user when a job fails or the queue ends, and `L`, the log viewer.

A mixin of `MedcamApp`: it uses the app's `notifier` and `output_root`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medcam_core.events import QueueFinished
from medcam_core.formatting import duration
from medcam_tui.notify import Notifier
from medcam_tui.screens.log_viewer import LogViewer
from medcam_tui.view_model import Failure

if TYPE_CHECKING:
    from pathlib import Path

    from textual.app import App

    _AppBase = App[int]
else:
    _AppBase = object

LOG_NAME = "medcam.log"  # what `setup_logging` writes in the output root


class LogAndAlerts(_AppBase):
    notifier: Notifier

    if TYPE_CHECKING:

        def output_root(self) -> Path: ...

    def alert_failure(self, failure: Failure, when: float) -> None:
        self.notifier.tell(f"{failure.job_id} failed at {failure.stage}: {failure.error}", "error", when)

    def alert_queue_end(self, event: QueueFinished) -> None:
        """A queue stopped by the user's own quit gets a toast but no ring: they are looking."""
        counts = ", ".join(f"{n} {status}" for status, n in event.counts.items() if n) or "no jobs"
        word = "stopped" if event.interrupted else "finished"
        severity = "warning" if event.counts.get("failed") else "information"
        self.notifier.tell(
            f"queue {word} in {duration(event.seconds)}: {counts}", severity, event.time, not event.interrupted
        )

    def action_log(self) -> None:
        self.push_screen(LogViewer(self.output_root() / LOG_NAME))
