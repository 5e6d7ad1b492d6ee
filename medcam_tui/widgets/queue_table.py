"""The queue as a table keyed by job id: cells change in place, rows never rebuilt."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from medcam_core.formatting import MISSING, duration, estimate, number, status_style
from medcam_core.vocabulary import Status
from medcam_tui.view_model import JobView, QueueView

COLUMNS = ("#", "dataset", "preset", "status", "epoch", "best val", "test acc", "test AUC", "time", "ETA")


def status_cell(job: JobView) -> Text:
    """The status, or for a running job the stage it is in, in the running colour."""
    if job.status == Status.RUNNING and job.stage:
        return Text(str(job.stage), style=status_style(Status.RUNNING))
    return Text(str(job.status), style=status_style(job.status))


class QueueTable(DataTable):
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
        """Add, remove and re-number rows to match the queue order; sort by '#' in place."""
        present = {key.value for key in self.rows}
        with self.app.batch_update():
            for gone in present - set(view.order):
                self.remove_row(gone)
            for index, job_id in enumerate(view.order, start=1):
                if job_id in present:
                    self.update_row(view, job_id, index)
                else:
                    self.add_row(*self._cells(index, view.jobs[job_id]), key=job_id)
            self.sort("#")

    def update_row(self, view: QueueView, job_id: str, index: int | None = None) -> None:
        if job_id not in view.jobs or job_id not in {k.value for k in self.rows}:
            return
        index = index if index is not None else view.order.index(job_id) + 1
        for column, value in zip(COLUMNS, self._cells(index, view.jobs[job_id]), strict=True):
            self.update_cell(job_id, column, value, update_width=True)

    @property
    def selected_job(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
