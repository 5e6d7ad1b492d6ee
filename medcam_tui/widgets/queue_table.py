"""The queue as a table keyed by job id: cells change in place, rows never rebuilt."""

from __future__ import annotations

from textual.widgets import DataTable

from medcam_tui.view_model import JobView, QueueView
from medcam_tui.widgets.format import duration, num, status_text

COLUMNS = ("#", "dataset", "preset", "status", "epoch", "best val", "test acc", "test AUC", "time", "ETA")


class QueueTable(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for column in COLUMNS:
            self.add_column(column, key=column)

    def _cells(self, index: int, job: JobView) -> tuple:
        best = f"{job.best_value:.3f}@{job.best_epoch}" if job.best_value is not None else "–"
        auc = num(job.test_auc)
        if job.auc_ci:
            auc += f" [{job.auc_ci[0]:.2f}–{job.auc_ci[1]:.2f}]"
        epoch = f"{job.epoch}/{job.epochs}" if job.epochs else (str(job.epoch) if job.epoch else "–")
        status = status_text(job.status if job.status != "running" or not job.stage else job.stage)
        if job.status == "running" and job.stage:
            status.stylize("bold blue")
        return (
            index,
            job.dataset,
            job.preset,
            status,
            epoch,
            best,
            num(job.test_accuracy),
            auc,
            duration(job.seconds),
            duration(job.eta) if job.status == "running" else "",
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
