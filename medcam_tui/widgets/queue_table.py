"""The queue as a table keyed by job id: cells change in place, rows never rebuilt. `/` (the app's) keeps
the rows whose job id holds a pattern; a header click (or `o`) sorts by that column, the cursor staying
on its job."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from medcam_core.formatting import MISSING, duration, estimate, number, status_style
from medcam_core.vocabulary import Status
from medcam_tui.view_model import JobView, QueueView
from medcam_tui.widgets.table_tools import SortOrder, SortValue, matches

COLUMNS = ("#", "dataset", "preset", "status", "epoch", "best val", "test acc", "test AUC", "time", "ETA")
ORDER = "#"  # the queue's own order, the default sort


def sort_value(job: JobView, index: int, column: str) -> SortValue:
    """What a column sorts by: the job's numbers themselves, not their text (`1m10s` after `35s`)."""
    values: dict[str, SortValue] = {
        ORDER: float(index),
        "dataset": job.dataset,
        "preset": job.preset,
        "status": str(job.stage if job.status == Status.RUNNING and job.stage else job.status),
        "epoch": float(job.epoch) if job.epoch else None,
        "best val": job.best_value,
        "test acc": job.test_accuracy,
        "test AUC": job.test_auc,
        "time": job.seconds,
        "ETA": job.eta if job.status == Status.RUNNING else None,
    }
    return values[column]


def status_cell(job: JobView) -> Text:
    """The status, or for a running job the stage it is in, in the running colour."""
    if job.status == Status.RUNNING and job.stage:
        return Text(str(job.stage), style=status_style(Status.RUNNING))
    return Text(str(job.status), style=status_style(job.status))


class QueueTable(DataTable):
    BINDINGS = [
        Binding(
            "o",
            "sort_next",
            "Sort",
            show=False,
            id="queue-sort",
            tooltip="Sort the queue by the next column (a click on a header sorts by it; again reverses)",
        )
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.pattern = ""  # rows shown: job ids holding it, any case
        self.order = SortOrder(ORDER)
        self._view: QueueView | None = None

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for column in COLUMNS:
            self.add_column(column, key=column)

    def _cells(self, index: int, job: JobView) -> tuple:
        best = f"{number(job.best_value)}@{job.best_epoch}" if job.best_value is not None else MISSING
        epoch = f"{job.epoch}/{job.epochs}" if job.epochs else (str(job.epoch) if job.epoch else MISSING)
        running = job.status == Status.RUNNING
        return (
            index,
            job.dataset,
            job.preset,
            status_cell(job),
            epoch,
            best,
            number(job.test_accuracy),
            estimate(job.test_auc, job.auc_ci, bound_digits=2),
            duration(job.seconds),
            duration(job.eta) if running else "",
        )

    def sync_rows(self, view: QueueView) -> None:
        """Add, remove and re-number rows to match the queue order and the filter; sort in place."""
        self._view = view
        present = {key.value for key in self.rows}
        shown = [job_id for job_id in view.order if matches(self.pattern, job_id)]
        with self.app.batch_update():
            for gone in present - set(shown):
                self.remove_row(gone)
            for job_id in shown:
                index = view.order.index(job_id) + 1
                if job_id in present:
                    self.update_row(view, job_id, index, resort=False)
                else:
                    self.add_row(*self._cells(index, view.jobs[job_id]), key=job_id)
            self._resort()

    def update_row(self, view: QueueView, job_id: str, index: int | None = None, resort: bool = True) -> None:
        if job_id not in view.jobs or job_id not in {k.value for k in self.rows}:
            return
        index = index if index is not None else view.order.index(job_id) + 1
        for column, value in zip(COLUMNS, self._cells(index, view.jobs[job_id]), strict=True):
            self.update_cell(job_id, column, value, update_width=True)
        if resort and self.order.column != ORDER:
            self._resort()

    def set_filter(self, pattern: str) -> None:
        """Show only the jobs whose id holds `pattern` (any case); the empty pattern shows every job."""
        self.pattern = pattern
        if self._view is not None:
            self.sync_rows(self._view)

    def sort_by(self, column: str) -> None:
        """Sort by `column`; the same column again reverses the order."""
        self.order.toggle(column)
        self.order.show(self, {c: c for c in COLUMNS})
        self._resort()

    def action_sort_next(self) -> None:
        following = COLUMNS[(COLUMNS.index(self.order.column) + 1) % len(COLUMNS)]
        self.sort_by(following)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))

    def _resort(self) -> None:
        """Sort the rows by the chosen column, keeping the cursor on the job it was on."""
        view = self._view
        if view is None:
            return
        selected = self.selected_job
        column = self.order.column

        def key(index: int) -> tuple[bool, SortValue]:
            return self.order.key(sort_value(view.jobs[view.order[index - 1]], index, column))

        self.sort(ORDER, key=key, reverse=self.order.reverse)
        if selected is not None and selected in {k.value for k in self.rows}:
            row = self.get_row_index(selected)
            if row != self.cursor_row:
                self.move_cursor(row=row)

    @property
    def selected_job(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
