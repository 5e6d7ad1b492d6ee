"""Small dialogs: confirm quit, pick a job to add, read a traceback."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select, Static


class ConfirmQuit(ModalScreen[bool]):
    """Quitting stops the running job at its next batch; it runs again on the next start."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="quit-yes", tooltip="Stop the job cleanly and quit"),
        Binding("n,escape", "answer(False)", "No", id="quit-no", tooltip="Keep training"),
    ]

    def __init__(self, job: str) -> None:
        super().__init__()
        self.job = job

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                f"[b]{self.job}[/b] is training. Quit now? The job stops after its current batch, the queue "
                "state is saved, and the job runs again from its start on the next run."
            )
            with Horizontal(classes="buttons"):
                yield Button("Stop and quit (y)", variant="error", id="yes")
                yield Button("Keep training (n)", variant="primary", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class AddJob(ModalScreen[tuple[str, str] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="add-cancel", tooltip="Close without adding")]

    def __init__(self, datasets: list[str], presets: list[str]) -> None:
        super().__init__()
        self.datasets, self.presets = datasets, presets

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("[b]Add a job[/b]: dataset × preset")
            yield Select([(d, d) for d in self.datasets], value=self.datasets[0], id="dataset", allow_blank=False)
            yield Select([(p, p) for p in self.presets], value=self.presets[0], id="preset", allow_blank=False)
            with Horizontal(classes="buttons"):
                yield Button("Add", variant="primary", id="add")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "add":
            self.dismiss(None)
            return
        dataset = self.query_one("#dataset", Select).value
        preset = self.query_one("#preset", Select).value
        self.dismiss((str(dataset), str(preset)))

    def action_cancel(self) -> None:
        self.dismiss(None)


class TracebackScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,t", "dismiss_screen", "Close", id="tb-close", tooltip="Back to the queue")]

    def __init__(self, title: str, traceback: str) -> None:
        super().__init__()
        self.title_text, self.traceback = title, traceback

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text)
            with VerticalScroll():
                yield Static(self.traceback, markup=False)
            yield Label("[dim]escape to close · the same traceback is in medcam.log[/dim]")

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)
