"""The Textual app: the queue live, steered from the keyboard, or followed read-only from a log.

The queue runs in one thread worker; the engine's events arrive as `EngineEvent` messages via
`post_message` (thread-safe, non-blocking) and are applied to one `QueueView`, from which only the
changed widgets are refreshed. The keys that steer the queue are `QueueControls`' (queue_controls.py).
TensorFlow is imported inside the worker, never here.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label
from textual.worker import Worker, WorkerState

from medcam_core.config import QueueConfig, UiSpec
from medcam_core.errors import MedcamError
from medcam_core.events import QueueFinished
from medcam_core.jobqueue.event_log import EVENT_LOG, follow
from medcam_core.jobqueue.runner import Runner
from medcam_core.jobqueue.state import PROGRESS_FILE
from medcam_core.outputs.job_folder import IMPORTED_DIR, JobFolder
from medcam_core.safe_text import printable
from medcam_core.vocabulary import Status
from medcam_tui.exit_codes import EXIT_CONFIG, EXIT_INTERNAL
from medcam_tui.keymap import apply_keymap
from medcam_tui.log_and_alerts import LogAndAlerts
from medcam_tui.messages import EngineEvent
from medcam_tui.notify import Notifier
from medcam_tui.queue_controls import QueueControls
from medcam_tui.screens.browser import ModelBrowser
from medcam_tui.screens.data import DataScreen
from medcam_tui.screens.gradcam import GradCAMScreen
from medcam_tui.screens.help import HelpScreen
from medcam_tui.screens.modals import TracebackScreen
from medcam_tui.screens.report import ReportScreen
from medcam_tui.view_model import Part, QueueView
from medcam_tui.widgets.failure_log import FailureLog
from medcam_tui.widgets.job_panel import JobPanel
from medcam_tui.widgets.machine_panel import MachinePanel
from medcam_tui.widgets.queue_table import QueueTable
from medcam_tui.widgets.status_bar import StatusBar
from medcam_tui.widgets.table_tools import FilterPrompt

log = logging.getLogger("medcam")
WORKER_NICE = 5


class MedcamApp(QueueControls, LogAndAlerts, App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "medcam-tui"
    mode: reactive[str] = reactive("live", bindings=True)  # live, idle, attach, crashed: which keys apply
    BINDINGS = [
        Binding(
            "p",
            "toggle_pause",
            "Pause/Resume",
            id="pause",
            tooltip="Pause the queue after the current batch, resume it, or start a --paused queue",
        ),
        Binding(
            "s",
            "skip",
            "Skip job",
            id="skip",
            tooltip="Stop the job in the panel at its next batch, marked skipped (retry re-queues it)",
        ),
        Binding(
            "c",
            "cancel",
            "Cancel job",
            id="cancel",
            tooltip="Stop the job in the panel at its next batch, marked cancelled (retry re-queues it)",
        ),
        Binding("r", "retry", "Retry", id="retry", tooltip="Queue the selected failed, cancelled or skipped job again"),
        Binding(
            "K,shift+up",
            "move(-1)",
            "Move up",
            show=False,
            id="move-up",
            key_display="K",
            tooltip="Move the selected queued job one place earlier",
        ),
        Binding(
            "J,shift+down",
            "move(1)",
            "Move down",
            show=False,
            id="move-down",
            key_display="J",
            tooltip="Move the selected queued job one place later",
        ),
        Binding("x,delete", "remove", "Remove", id="remove", show=False, tooltip="Remove the selected queued job"),
        Binding("a", "add", "Add job", id="add", tooltip="Add a job: pick a dataset and a preset"),
        Binding(
            "b",
            "browser",
            "Models",
            id="browser",
            tooltip="Browse finished models: test metrics, curves, config, confusion matrix, files",
        ),
        Binding("g", "gradcam", "Grad-CAM", id="gradcam", tooltip="Grad-CAM heatmaps of the selected finished model"),
        Binding("e", "report", "Report", id="report", tooltip="Preview and export STATUS_REPORT.md"),
        Binding(
            "d",
            "data",
            "Data",
            id="data",
            show=False,
            tooltip="The selected job's dataset as training decodes it: a contact sheet per split and class",
        ),
        Binding(
            "t",
            "traceback",
            "Traceback",
            id="traceback",
            show=False,
            tooltip="Show the traceback of the selected failure",
        ),
        Binding(
            "L", "log", "Log", id="log", show=False, tooltip="medcam.log of the output root: follows it, / searches"
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="filter",
            show=False,
            key_display="/",
            tooltip="Show only the jobs whose id holds a pattern",
        ),
        Binding("question_mark", "help", "Help", id="help", key_display="?", tooltip="List every key"),
        Binding(
            "q",
            "quit",
            "Quit",
            id="quit",
            tooltip="Quit; a running job is stopped cleanly at its next batch and re-queued",
        ),
    ]

    def __init__(
        self,
        config: QueueConfig | None = None,
        runner: Runner | None = None,
        attach: Path | None = None,
        start_paused: bool = False,
    ) -> None:
        super().__init__()
        self.config = config
        self.runner = runner
        self.attach_dir = attach
        self.mode = "attach" if attach else ("idle" if start_paused else "live")
        self.view = QueueView()
        self._quitting = False
        self._stop_follow = threading.Event()
        self.exit_code = 0
        self.notifier = Notifier(self, (config.ui if config else UiSpec()).notify)

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield QueueTable(id="queue")
        with Horizontal(id="bottom"):
            yield JobPanel(id="job")
            with Vertical(id="side"):
                yield MachinePanel(id="machine")
                with Vertical(id="failures-box"):
                    yield Label("[b]Failures[/b] (t: traceback)", id="failures-title")
                    yield FailureLog(id="failures")
        yield Footer()

    def on_mount(self) -> None:
        if self.runner is not None:
            self.view.load_snapshot(self.runner.queue.snapshot())
            self.query_one(QueueTable).sync_rows(self.view)
            if self.mode == "live":
                self.run_queue()
        else:
            self.follow_log()
        self.query_one(QueueTable).focus()
        self._refresh_header()
        unknown = apply_keymap(self, self.config.ui.keys if self.config else ())
        if unknown:
            self.notify(f"[ui.keys]: no binding has the id {', '.join(unknown)} (? lists them)", severity="warning")

    def on_unmount(self) -> None:
        """However the app ends, no thread keeps training or following a log behind it."""
        self._stop_follow.set()
        if self.runner is not None:
            self.runner.control.quit()

    def _refresh_header(self) -> None:
        self.query_one(StatusBar).refresh_from(self.view, self.mode)

    # -- event flow -----------------------------------------------------------------------------

    def sink(self, event: object) -> None:
        """The engine-side sink: called on the worker thread, never blocks it."""
        self.post_message(EngineEvent(event))  # type: ignore[arg-type]

    @work(thread=True, exit_on_error=False, name="queue", group="queue")
    def run_queue(self) -> dict[str, int]:
        try:  # below the UI thread, so key presses win the cores while training saturates them
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
        except (AttributeError, OSError):
            pass
        assert self.runner is not None
        return self.runner.run()

    @work(thread=True, exit_on_error=False, name="follow", group="follow")
    def follow_log(self) -> None:
        assert self.attach_dir is not None
        for event in follow(self.attach_dir / EVENT_LOG, self._stop_follow):
            self.post_message(EngineEvent(event))

    def on_engine_event(self, message: EngineEvent) -> None:
        changed = self.view.apply(message.event)
        table = self.query_one(QueueTable)
        if Part.ORDER in changed:
            table.sync_rows(self.view)
        for job_id in changed.rows:
            table.update_row(self.view, job_id)
        if Part.PANEL in changed:
            self.query_one(JobPanel).refresh_from(self.view)
        if Part.MACHINE in changed:
            self.query_one(MachinePanel).refresh_from(self.view)
        if Part.FAILURES in changed:
            self.query_one(FailureLog).sync(self.view)
            self.alert_failure(self.view.failures[-1], message.event.time)
        if isinstance(message.event, QueueFinished):
            self.alert_queue_end(message.event)
        if Part.NOTICE in changed:
            notice = self.view.notices[-1]
            severity = "warning" if notice.level == "warning" else "information"
            self.notify(notice.message, severity=severity, markup=False)
        self._refresh_header()

    @on(DataTable.RowHighlighted, "QueueTable")
    def _queue_row_selected(self, event: DataTable.RowHighlighted) -> None:
        """Selecting a running job's row shows it in the panel (and makes it what s and c stop)."""
        self.view.focus = self.query_one(QueueTable).selected_job
        self.query_one(JobPanel).refresh_from(self.view)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The queue's or the follower's end: a worker that died says so on screen and in the exit status."""
        if event.worker.name not in ("queue", "follow") or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            user_error = isinstance(error, MedcamError)
            message = str(error) if user_error else f"internal error: {error!r} (see the log)"
            log.error("%s worker stopped: %r", event.worker.name, error, exc_info=error)
            what = "the queue" if event.worker.name == "queue" else f"following {EVENT_LOG}"
            self.notify(f"{what} stopped: {printable(message)}", severity="error", timeout=30, markup=False)
            self.exit_code, self.mode = (EXIT_CONFIG if user_error else EXIT_INTERNAL), "crashed"
            self._refresh_header()
        elif event.worker.name == "follow":
            return
        else:
            counts = event.worker.result or {}
            self.exit_code = 1 if counts.get(Status.FAILED) else 0
        if self._quitting:
            self.exit(self.exit_code)

    # -- command palette: every binding, described by its tooltip -----------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            yield SystemCommand(binding.description, binding.tooltip, partial(self.run_action, binding.action))

    # -- screens ------------------------------------------------------------------------------

    def finished_folders(self) -> list[tuple[str, Path]]:
        """The queue's finished jobs, then the models `evaluate` imported into the output root."""
        root = self.output_root()
        jobs = [
            (job_id, root / self.view.jobs[job_id].folder)
            for job_id in self.view.order
            if self.view.jobs[job_id].status == Status.DONE and self.view.jobs[job_id].folder
        ]
        imported = root / IMPORTED_DIR
        return jobs + [(f"{IMPORTED_DIR}/{p.name}", p) for p in sorted(imported.glob("*/")) if p.is_dir()]

    def action_browser(self) -> None:
        self.push_screen(ModelBrowser(self.finished_folders()))

    def open_gradcam(self, job_id: str | None) -> None:
        folders = dict(self.finished_folders())
        if job_id not in folders:
            self.notify("select a finished (done) model for Grad-CAM", severity="warning")
            return
        if JobFolder(folders[job_id]).import_file.is_file():
            self.notify("an imported model: run `medcam-tui gradcam MODEL_FILE IMAGE…` on its file", severity="warning")
            return
        try:
            screen = GradCAMScreen(folders[job_id])
        except (OSError, ValueError, KeyError, TypeError) as exc:  # a damaged job folder: say so, stay up
            self.notify(f"cannot open {folders[job_id].name}: {printable(exc)}", severity="error", markup=False)
            return
        self.push_screen(screen)

    def action_gradcam(self) -> None:
        self.open_gradcam(self.query_one(QueueTable).selected_job)

    @on(ModelBrowser.GradCAMRequested)
    def _gradcam_from_browser(self, message: ModelBrowser.GradCAMRequested) -> None:
        self.open_gradcam(message.job_id)

    def action_data(self) -> None:
        job = self.view.jobs.get(self.query_one(QueueTable).selected_job or "")
        if job is None or self.config is None:
            self.notify("select a job of this queue's config to see its dataset", severity="warning")
            return
        self.push_screen(DataScreen.for_job(self.config, job.dataset, job.preset, self.output_root()))

    def output_root(self) -> Path:
        if self.attach_dir is not None:
            return self.attach_dir
        return Path(self.view.output) if self.view.output else (self.config.output if self.config else Path("."))

    def action_report(self) -> None:
        if not (self.output_root() / PROGRESS_FILE).is_file():
            self.notify("nothing to report yet: no job has started", severity="warning")
            return
        self.push_screen(ReportScreen(self.output_root()))

    def action_traceback(self) -> None:
        index = self.query_one(FailureLog).selected_index
        if index is None:
            self.notify("no failure to show", severity="information")
            return
        failure = self.view.failures[index]
        title = f"[b]{failure.job_id}[/b] failed at {failure.stage}: {escape(failure.error)}"
        title += f"\nhint: {escape(failure.hint)}"
        self.push_screen(TracebackScreen(title, failure.traceback))

    def action_filter(self) -> None:
        table = self.query_one(QueueTable)
        self.push_screen(FilterPrompt(table.pattern, table.set_filter))

    def action_help(self) -> None:
        keymap = dict(self.config.ui.keys) if self.config else {}
        self.push_screen(HelpScreen(list(self.BINDINGS), self.mode, keymap))
