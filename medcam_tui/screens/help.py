"""`?`: every key of the app with what it does, generated from the bindings themselves, with the id
`[ui.keys]` rebinds it by and the key it has now."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help-close", tooltip="Back")]

    def __init__(self, bindings: list[Binding], mode: str, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.bindings, self.mode, self.keymap = bindings, mode, keymap or {}

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(key in force, action, what it does, id) per binding."""
        return [
            (self.keymap.get(b.id or "", b.key_display or b.key), b.description, b.tooltip, b.id or "")
            for b in self.bindings
        ]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold")
        table.add_column("key")
        table.add_column("action")
        table.add_column("what it does")
        table.add_column("id ([ui.keys])", style="dim")
        for row in self.rows():
            table.add_row(*row)
        with Vertical(classes="dialog wide"):
            yield Label("[b]medcam-tui keys[/b]  (also in the command palette: ctrl+p)")
            if self.mode == "attach":
                yield Label("[yellow]Attached to another process: queue controls are read-only here.[/yellow]")
            with VerticalScroll():
                yield Static(table)
            yield Label("[dim]escape to close[/dim]")

    def action_close(self) -> None:
        self.dismiss(None)
