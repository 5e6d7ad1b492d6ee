"""Every failure with job, stage, error and hint; Enter opens its traceback."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from medcam_core.safe_text import printable
from medcam_tui.view_model import QueueView


class FailureLog(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        for column in ("job", "stage", "error", "hint"):
            self.add_column(column, key=column)

    def sync(self, view: QueueView) -> None:
        for index in range(self.row_count, len(view.failures)):
            f = view.failures[index]
            cells = (f.job_id, f.stage, f.error, f.hint)  # errors name dataset files: plain text, never markup
            self.add_row(*(Text(printable(cell)) for cell in cells), key=str(index))

    @property
    def selected_index(self) -> int | None:
        if not self.row_count:
            return None
        return int(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
