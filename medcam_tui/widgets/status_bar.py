"""The top line: queue progress n/N, failures, overall ETA, device, and whether the queue runs."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from medcam_core.formatting import duration, status_style
from medcam_core.vocabulary import Status
from medcam_tui.view_model import QueueView


class StatusBar(Static):
    def refresh_from(self, view: QueueView, mode: str) -> None:
        counts = view.counts()
        total = len(view.jobs)
        done, failed = counts.get(Status.DONE, 0), counts.get(Status.FAILED, 0)
        text = Text.assemble(
            ("medcam-tui ", "bold"),
            (f"queue {done + failed}/{total}", "bold"),
            f" · {done} {Status.DONE}",
        )
        if failed:
            text.append(f" · {failed} {Status.FAILED}", style=status_style(Status.FAILED))
        eta = view.queue_eta()
        if eta is not None and not view.finished:
            text.append(f" · ETA ≤ {duration(eta)}")
        text.append(f" · {view.device or 'device: starting…'}")
        text.append("  ")
        text.append(f" {self._state(view, mode)} ", style="reverse")
        self.update(text)

    @staticmethod
    def _state(view: QueueView, mode: str) -> str:
        if mode == "attach":
            return "ATTACHED (read-only)" + (" · finished" if view.finished else "")
        if mode == "crashed":
            return "STOPPED by an error (see the notice and the log)"
        if view.finished:
            return "STOPPED" if view.interrupted else "FINISHED"
        if mode == "idle":
            return "NOT STARTED (p to start)"
        return "PAUSED" if view.paused else "RUNNING"
