"""The headless sink: rich progress bars on a terminal, plain lines everywhere else (nohup, CI)."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from medcam_core.events import (
    BatchProgress,
    DatasetLoaded,
    EpochEnded,
    EpochStarted,
    Event,
    JobFailed,
    JobFinished,
    JobStarted,
    JobStopped,
    ModelBuilt,
    Notice,
    QueueFinished,
    QueueStarted,
    StageProgress,
)
from medcam_core.formatting import duration, estimate, number, stage_label, status_style
from medcam_core.safe_text import printable, printable_fields
from medcam_core.vocabulary import Status


class ConsoleSink:
    """Prints one line per milestone; a live bar per epoch only when the console is a terminal."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self._lock = threading.Lock()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[extra]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        )
        self._task: int | None = None
        self._results: list[tuple[str, str, str]] = []
        self._running: set[str] = set()
        self._parallel = False
        self._prefix = ""

    def __call__(self, event: Event) -> None:
        """With several jobs at once (a parallel executor) lines carry the job id and bars are off."""
        event = printable_fields(event, lambda text: escape(printable(text, keep_newlines=True)))
        with self._lock:
            job_id = getattr(event, "job_id", None)
            if event.kind == "job_started":
                self._running.add(job_id)
                self._parallel = self._parallel or len(self._running) > 1
            shown = job_id and self._parallel and event.kind != "job_started"
            self._prefix = f"[dim]{job_id}[/] " if shown else ""
            handler = getattr(self, f"_on_{event.kind}", None)
            if handler is not None:
                handler(event)
            if event.kind in ("job_finished", "job_failed", "job_stopped"):
                self._running.discard(job_id)

    def _bar(self, description: str, total: int) -> None:
        if self._parallel:
            self._end_bar()
            return
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(description, total=total, extra="")
        else:
            self._progress.reset(self._task, description=description, total=total, extra="")

    def _end_bar(self) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
            self._progress.stop()
            self._task = None

    def _print(self, *args: object) -> None:
        if self._prefix and args and isinstance(args[0], str):
            args = (self._prefix + args[0].lstrip(" "), *args[1:])
        self._progress.console.print(*args, highlight=False)

    def _on_queue_started(self, e: QueueStarted) -> None:
        queued = sum(1 for j in e.jobs if j["status"] == Status.QUEUED)
        self._print(f"[bold]medcam-tui[/] {len(e.jobs)} jobs ({queued} to run) on {e.device} → {e.output}")

    def _on_notice(self, e: Notice) -> None:
        style = {"warning": "yellow", "error": "red"}.get(e.level, "dim")
        self._print(f"[{style}]{e.level}:[/] {e.message}")

    def _on_job_started(self, e: JobStarted) -> None:
        self._print(f"\n[bold]▶ [{e.index}/{e.total}] {e.dataset} × {e.preset}[/]")

    def _on_stage_progress(self, e: StageProgress) -> None:
        label = stage_label(e.stage)
        if self._task is None or self._progress.tasks[0].description != label:
            self._bar(label, e.total)
        if self._task is not None:
            self._progress.update(self._task, completed=e.done)
        if e.done >= e.total:
            self._end_bar()

    def _on_dataset_loaded(self, e: DatasetLoaded) -> None:
        parts = [f"{name} {c['positive']}+/{c['negative']}−" for name, c in e.counts.items()]
        skipped = f", {e.skipped} file(s) skipped" if e.skipped else ""
        self._print(f"  data: {', '.join(parts)} ({sum(e.patients.values())} patients){skipped}")

    def _on_model_built(self, e: ModelBuilt) -> None:
        self._print(
            f"  model: {e.total_params:,} params, {e.trainable_params:,} trainable from "
            f"{e.first_trainable}; training path: {e.training_path}"
        )

    def _on_epoch_started(self, e: EpochStarted) -> None:
        self._bar(f"  epoch {e.epoch}/{e.epochs}", e.batches)

    def _on_batch_progress(self, e: BatchProgress) -> None:
        if self._task is not None:
            self._progress.update(
                self._task, completed=e.batch, extra=f"loss {number(e.loss)} · {e.images_per_s:.0f} img/s"
            )

    def _on_epoch_ended(self, e: EpochEnded) -> None:
        self._end_bar()
        logs = e.logs
        self._print(
            f"  epoch {e.epoch:>2}/{e.epochs} loss {number(logs.get('loss'))} "
            f"val_loss {number(logs.get('val_loss'))} "
            f"val_auc {number(logs.get('val_auc'))} lr {e.learning_rate or 0:.1e} ({e.seconds:.1f}s)"
        )

    def _on_job_finished(self, e: JobFinished) -> None:
        m = e.metrics
        auroc = estimate(m.get("auroc"), m.get("auroc_ci"))
        self._print(
            f"  [{status_style(Status.DONE)}]✓ {Status.DONE}[/] test AUROC {auroc} "
            f"· accuracy {number(m.get('accuracy'))} "
            f"· sensitivity {number(m.get('recall'))} · specificity {number(m.get('specificity'))} "
            f"· {e.epochs_run} epochs · {duration(e.seconds)}"
        )
        self._results.append((e.job_id, Status.DONE, f"AUROC {auroc}"))

    def _on_job_failed(self, e: JobFailed) -> None:
        self._end_bar()
        style = status_style(Status.FAILED)
        self._print(f"  [{style}]✗ {Status.FAILED} at {e.stage}:[/] {e.error}\n    hint: {e.hint}")
        self._results.append((e.job_id, Status.FAILED, f"{e.stage}: {e.error}"))

    def _on_job_stopped(self, e: JobStopped) -> None:
        self._end_bar()
        self._print(f"  [{status_style(e.status)}]■ {e.status}:[/] {e.reason}")
        self._results.append((e.job_id, e.status, e.reason))

    def _on_queue_finished(self, e: QueueFinished) -> None:
        self._end_bar()
        table = Table(title="queue", show_lines=False)
        for col in ("job", "status", "result"):
            table.add_column(col)
        for job_id, status, text in self._results:
            table.add_row(job_id, f"[{status_style(status)}]{status}[/]", text)
        self._print(table)
        counts = ", ".join(f"{n} {s}" for s, n in e.counts.items() if n)
        word = "stopped" if e.interrupted else "finished"
        self._print(f"queue {word} in {duration(e.seconds)}: {counts}")
