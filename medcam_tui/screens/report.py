"""`e`: the status report rendered with Rich's Markdown before it is saved."""

from __future__ import annotations

from pathlib import Path

from rich.markdown import Markdown
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from medcam_core.outputs.report import build_report, write_report


class ReportScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("s", "save", "Save", id="report-save", tooltip="Write STATUS_REPORT.md and results.csv"),
        Binding("escape,q", "close", "Close", id="report-close", tooltip="Back without saving"),
    ]

    def __init__(self, output: Path) -> None:
        super().__init__()
        self.output = output

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(f"[b]Status report[/b] for {self.output} — s: save · escape: close")
            with VerticalScroll():
                yield Static(Markdown(build_report(self.output)), id="report-body")

    def action_save(self) -> None:
        report, table = write_report(self.output)
        self.app.notify(f"wrote {report} and {table}")
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
