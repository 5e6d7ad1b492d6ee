"""The top line: queue progress n/N, failures, overall ETA, device, and whether the queue runs."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from medcam_tui.view_model import QueueView
from medcam_tui.widgets.format import duration


class StatusBar(Static):
    def refresh_from(self, view: QueueView, mode: str) -> None:
        counts = view.counts()
        total = len(view.jobs)
        finished = counts.get("done", 0) + counts.get("failed", 0)
        text = Text.assemble(
            ("medcam-tui ", "bold"),
            (f"queue {finished}/{total}", "bold"),
            f" · {counts.get('done', 0)} done",
        )
        if counts.get("failed"):
            text.append(f" · {counts['failed']} failed", style="bold red")
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
