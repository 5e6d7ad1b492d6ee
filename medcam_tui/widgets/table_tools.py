"""What the queue table and the model browser share: a `/` filter on the job id and sortable columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label

SortValue = float | str | None
ASCENDING, DESCENDING = " ▲", " ▼"


def matches(pattern: str, job_id: str) -> bool:
    """A job id matches when it holds the pattern, in any case; the empty pattern matches every id."""
    return pattern.strip().casefold() in job_id.casefold()


class FilterPrompt(ModalScreen[str]):
    """A one-line input at the bottom: the rows behind follow each key stroke; enter keeps the pattern,
    escape clears it. Dismissed with the pattern in force."""

    DEFAULT_CSS = """
    FilterPrompt.filter-prompt { background: $background 0%; }
    FilterPrompt #filter-bar { dock: bottom; height: 3; width: 100%; background: $panel; padding: 0 1; }
    FilterPrompt #filter-bar Label { width: auto; padding: 1 1 0 0; }
    FilterPrompt #filter-bar Input { width: 1fr; }
    """
    BINDINGS = [Binding("escape", "clear", "Clear filter", id="filter-clear", tooltip="Show every row again")]

    def __init__(self, pattern: str, apply: Callable[[str], None], what: str = "job id") -> None:
        super().__init__(classes="filter-prompt")
        self.pattern, self.apply, self.what = pattern, apply, what

    def compose(self) -> ComposeResult:
        with Horizontal(id="filter-bar"):
            yield Label(f"/ filter by {self.what} (enter keeps, escape clears):")
            yield Input(self.pattern, placeholder="e.g. pneu", id="filter-input")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.pattern = event.value
        self.apply(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(self.pattern)

    def action_clear(self) -> None:
        self.pattern = ""
        self.apply("")
        self.dismiss("")


@dataclass
class SortOrder:
    """Which column a table is sorted by and which way; a second click on the same header reverses it."""

    column: str
    reverse: bool = False

    def toggle(self, column: str) -> None:
        self.reverse = not self.reverse if column == self.column else False
        self.column = column

    def key(self, value: SortValue) -> tuple[bool, SortValue]:
        """Missing values last in either direction; numbers and text each sort among their own kind."""
        missing = value is None
        return (not missing if self.reverse else missing, "" if value is None else value)

    def show(self, table: DataTable, labels: dict[str, str]) -> None:
        """Each header as labelled, the sorted one with its arrow; widened when the arrow needs room."""
        for key, column in table.columns.items():
            text = labels[str(key.value)]
            if key.value == self.column:
                text += DESCENDING if self.reverse else ASCENDING
            column.label = Text(text)
            column.content_width = max(column.content_width, cell_len(text))
        table.refresh(layout=True)
