"""The TUI driven by Pilot against a real tiny queue: live updates, every key, quit, attach."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Label

from medcam_core.events import (
    BatchProgress,
    EpochEnded,
    EpochStarted,
    JobFinished,
    JobStarted,
    Notice,
    QueueStarted,
)
from medcam_core.jobqueue.event_log import EventLog
from medcam_core.jobqueue.runner import Runner
from medcam_tui import app as app_module
from medcam_tui.app import MedcamApp
from medcam_tui.exit_codes import EXIT_INTERNAL
from medcam_tui.screens.browser import ModelBrowser
from medcam_tui.screens.gradcam import GradCAMScreen
from medcam_tui.screens.help import HelpScreen
from medcam_tui.screens.modals import AddJob, ConfirmQuit, TracebackScreen
from medcam_tui.widgets.failure_log import FailureLog
from medcam_tui.widgets.queue_table import QueueTable
from medcam_tui.widgets.status_bar import StatusBar

from conftest import dataset_spec, tiny_preset, tiny_queue

pytestmark = pytest.mark.cost(50)

SIZE = (140, 40)


def make_app(config, paused: bool = False) -> tuple[MedcamApp, EventLog]:
    app = MedcamApp(config=config, start_paused=paused)
    log = EventLog(config.output / "events.jsonl")
    app.runner = Runner(config, [log, app.sink])
    return app, log


async def wait_for(pilot, predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)


def runner_busy() -> bool:
    """True while any thread is still executing the queue (Runner.run)."""
    return any(
        "medcam_core/jobqueue/runner.py" in frame.f_code.co_filename and frame.f_code.co_name == "run"
        for top in sys._current_frames().values()
        for frame in _stack(top)
    )


def _stack(frame):
    while frame is not None:
        yield frame
        frame = frame.f_back


def cell(app: MedcamApp, job_id: str, column: str) -> str:
    return str(app.query_one(QueueTable).get_cell(job_id, column))


async def test_live_queue_failure_log_browser_and_help(synthetic_root: Path, tmp_path: Path) -> None:
    config = tiny_queue(
        (
            dataset_spec(synthetic_root, "pneumonia", external=("cardiomegaly",)),
            dataset_spec(tmp_path, "missing"),
            dataset_spec(synthetic_root, "cardiomegaly", train=False),
        ),
        tmp_path / "out",
        {"standard": tiny_preset(run_eagerly=True)},
    )
    app, log = make_app(config)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(QueueTable)
        assert [k.value for k in table.rows] == ["pneumonia_standard", "missing_standard"]
        seen_running = []
        await wait_for(
            pilot, lambda: seen_running.append(cell(app, "pneumonia_standard", "status")) or app.view.finished
        )
        assert "done" == cell(app, "pneumonia_standard", "status")
        assert "failed" == cell(app, "missing_standard", "status")
        assert any(s not in ("queued", "done") for s in seen_running)  # it showed the job's stages live
        assert cell(app, "pneumonia_standard", "test AUC").startswith("0.") or "1.000" in cell(
            app, "pneumonia_standard", "test AUC"
        )
        assert table.row_count == 2
        assert app.query_one(FailureLog).row_count == 1

        app.query_one(FailureLog).focus()
        await pilot.press("t")
        assert isinstance(app.screen, TracebackScreen)
        assert "Traceback" in app.screen.traceback and "not found" in app.screen.title_text
        await pilot.press("escape")

        await pilot.press("b")
        assert isinstance(app.screen, ModelBrowser)
        browser = app.screen
        await wait_for(pilot, lambda: browser.loaded)  # the folders are read in a worker
        assert app.screen.query_one("#models").row_count == 1
        matrix = app.screen.query_one("#matrix", DataTable)
        await wait_for(pilot, lambda: matrix.has_class("shown"))
        row = [str(c) for c in matrix.get_row("pneumonia_standard")]
        assert [str(c.label) for c in matrix.columns.values()] == ["model", "cardiomegaly", "pneumonia"]
        assert row[1].endswith(" n48") and row[2].endswith(" *")
        assert "confusion matrix" in str(app.screen.query_one("#model-info").render())
        await pilot.press("g")
        assert isinstance(app.screen, GradCAMScreen)
        screen = app.screen
        await wait_for(pilot, lambda: screen.current is not None, timeout=120)
        assert "P(positive)" in str(screen.query_one("#gradcam-caption").render())
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.exported, timeout=60)
        assert screen.exported[0].is_file() and screen.exported[0].parent.name == "gradcam"
        await pilot.press("escape", "escape")

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("q")
    log.close()
    assert app.return_code == 0
    assert not runner_busy()


async def test_keyboard_steers_the_queue_and_quit_stops_cleanly(synthetic_root: Path, tmp_path: Path) -> None:
    presets = {"standard": tiny_preset(run_eagerly=True, epochs=50), "intensive": tiny_preset("intensive")}
    config = tiny_queue(
        (dataset_spec(synthetic_root, "pneumonia"), dataset_spec(synthetic_root, "cardiomegaly")), tmp_path, presets
    )
    app, log = make_app(config, paused=True)
    queue = app.runner.queue
    order = lambda: [e["id"] for e in queue.snapshot()]  # noqa: E731
    async with app.run_test(size=SIZE) as pilot:
        assert app.mode == "idle" and not runner_busy()
        await pilot.press("down", "down")  # cardiomegaly_standard
        await pilot.press("K")
        assert order()[1] == "cardiomegaly_standard"
        assert app.query_one(QueueTable).selected_job == "cardiomegaly_standard"
        await pilot.press("J")
        assert order()[2] == "cardiomegaly_standard"
        await pilot.press("x")
        assert "cardiomegaly_standard" not in order()
        assert app.query_one(QueueTable).row_count == 3
        await pilot.press("a")
        assert isinstance(app.screen, AddJob)
        app.screen.query_one("#dataset").value = "cardiomegaly"
        app.screen.query_one("#preset").value = "standard"
        await pilot.click("#add")
        await pilot.pause()
        assert order()[-1] == "cardiomegaly_standard"
        assert app.query_one(QueueTable).row_count == 4

        await pilot.press("p")  # start the --paused queue
        await wait_for(pilot, lambda: app.view.current is not None and app.view.current.stage == "fit")
        await pilot.press("s")
        await wait_for(pilot, lambda: queue.get("pneumonia_standard").status == "skipped")
        assert cell(app, "pneumonia_standard", "status") == "skipped"
        await pilot.press("p")  # held first: a retried job at the head of the queue is otherwise taken at once
        assert app.runner.control.paused
        await pilot.press("ctrl+home", "r")
        assert queue.get("pneumonia_standard").status == "queued"
        await pilot.press("p")
        assert not app.runner.control.paused

        await wait_for(pilot, lambda: app.view.current is not None and app.view.current.stage == "fit")
        running = app.view.current.job_id
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, timeout=60)
    log.close()
    assert not runner_busy()
    status = {e["id"]: e["status"] for e in queue.snapshot()}
    assert status[running] == "queued"  # interrupted, so the next start continues it
    assert "running" not in status.values()


async def test_attach_follows_another_process_read_only(synthetic_root: Path, tmp_path: Path) -> None:
    config = tiny_queue((dataset_spec(tmp_path, "missing"),), tmp_path / "out")
    log = EventLog(config.output / "events.jsonl")
    Runner(config, [log]).run()
    app = MedcamApp(attach=config.output)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.view.finished)
        assert cell(app, "missing_standard", "status") == "failed"
        log(Notice("info", "a line written after the app attached"))
        await wait_for(pilot, lambda: any("after the app" in n.message for n in app.view.notices))
        footer_keys = {b.binding.id for b in app.screen.active_bindings.values() if b.enabled}
        assert "browser" in footer_keys and not footer_keys & {"pause", "skip", "cancel", "retry", "add"}
        await pilot.press("p")  # not a key here: nothing to refuse, nothing changes
        assert app.runner is None and app.mode == "attach"
        await pilot.press("q")
    log.close()


async def test_the_panel_follows_the_selected_one_of_several_running_jobs(tmp_path: Path) -> None:
    """What `--parallel 2` writes: two jobs' events interleaved; both rows live, the panel on one."""
    log = EventLog(tmp_path / "events.jsonl")
    jobs = ["a_standard", "b_standard"]
    log(QueueStarted([{"id": j, "dataset": j[0], "preset": "standard", "status": "queued"} for j in jobs], "", "", ""))
    for i, job in enumerate(jobs):
        log(JobStarted(job, job[0], "standard", i + 1, 2, 5, time=100.0))
        log(EpochStarted(job, 1, 5, 10, time=100.0))
    for job, seconds in zip(jobs, (10.0, 20.0), strict=True):
        log(EpochEnded(job, 1, 5, {"loss": 0.5}, 1e-3, seconds, time=100.0 + seconds))
        log(EpochStarted(job, 2, 5, 10, time=100.0 + seconds))
        log(BatchProgress(job, 2, 5, 10, 32.0, 0.4, time=100.0 + 1.5 * seconds))
    app = MedcamApp(attach=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(app.view.live) == 2 and app.view.jobs["a_standard"].eta is not None)
        title = app.query_one("#job-title", Label)
        assert cell(app, "a_standard", "ETA") == "35s" and cell(app, "b_standard", "ETA") == "1m10s"
        assert "b × standard" in str(title.render()) and "(1 of 2 running)" in str(title.render())
        app.query_one(QueueTable).move_cursor(row=0)
        await pilot.pause()
        assert "a × standard" in str(title.render()) and "batch 5/10" in str(app.query_one("#job-rate", Label).render())
        log(JobFinished("a_standard", {}, 1, 2, 30.0, str(tmp_path), time=130.0))
        await wait_for(pilot, lambda: "b × standard" in str(title.render()))
        assert "of 2 running" not in str(title.render())  # one job left running
    log.close()


# val_loss is best at epoch 2, val_auc at epoch 3; epoch 4's val_loss was NaN (None in the log)
DISAGREEING = [(0.50, 0.80), (0.30, 0.85), (0.40, 0.95), (None, 0.90)]


@pytest.mark.parametrize(("monitor", "best"), [("val_loss", "0.300@2"), ("val_auc", "0.950@3")])
async def test_best_val_is_the_monitored_metric_at_its_own_epoch(tmp_path: Path, monitor: str, best: str) -> None:
    """The table once assumed val_auc whatever the preset monitored, pairing a value with another epoch."""
    log = EventLog(tmp_path / "events.jsonl")
    log(QueueStarted([{"id": "a_standard", "dataset": "a", "preset": "standard", "status": "queued"}], "", "", ""))
    log(JobStarted("a_standard", "a", "standard", 1, 1, 4, monitor=monitor, time=100.0))
    for epoch, (val_loss, val_auc) in enumerate(DISAGREEING, start=1):
        log(EpochStarted("a_standard", epoch, 4, 10, time=100.0 + epoch))
        logs = {"loss": 0.5, "val_loss": val_loss, "val_auc": val_auc}
        log(EpochEnded("a_standard", epoch, 4, logs, 1e-3, 1.0, time=101.0 + epoch))
    app = MedcamApp(attach=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.view.jobs.get("a_standard") and app.view.jobs["a_standard"].epoch == 4)
        assert cell(app, "a_standard", "best val") == best
        label = str(app.query_one("#label-val_loss", Label).render())
        assert "best 0.300 @2" in label  # the panel's val_loss curve: lower is better, whatever is monitored
    log.close()


async def test_every_binding_has_id_tooltip_and_a_palette_command(tmp_path: Path) -> None:
    for binding in MedcamApp.BINDINGS:
        assert binding.id and binding.tooltip, binding
    app = MedcamApp(attach=tmp_path)
    async with app.run_test(size=SIZE):
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
    for binding in MedcamApp.BINDINGS:
        assert commands[binding.description] == binding.tooltip


async def test_a_queue_worker_that_dies_says_so_and_exits_3(tmp_path: Path, monkeypatch, caplog) -> None:
    config = tiny_queue((dataset_spec(tmp_path, "missing"),), tmp_path / "out")
    app, log = make_app(config)

    def broken(self: Runner) -> dict[str, int]:
        raise RuntimeError("injected engine bug")

    monkeypatch.setattr(Runner, "run", broken)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.exit_code == EXIT_INTERNAL)
        assert "STOPPED by an error" in str(app.query_one(StatusBar).render())
    (record,) = [r for r in caplog.records if r.name == "medcam" and "queue worker stopped" in r.message]
    assert record.exc_info is not None and "injected engine bug" in str(record.exc_info[1])
    log.close()


def test_parallel_workers_can_spawn_under_the_tui() -> None:
    """Textual's sys.stderr has no file descriptor; `--parallel N` workers must start all the same."""
    import subprocess

    probe = (
        "import asyncio\n"
        "from textual.app import App\n"
        "from medcam_core.config import parse_config\n"
        "from medcam_core.jobqueue.executors import ProcessTransport\n"
        "from medcam_tui.commands import connect_executor\n"
        "dataset = {'name': 'd', 'path': 'data', 'positive': ['x']}\n"
        "config = parse_config({'queue': {'parallel': 2}, 'datasets': [dataset]})\n"
        "connect_executor(config)\n"
        "async def main():\n"
        "    async with App().run_test():\n"
        "        ProcessTransport(0).close()\n"
        "asyncio.run(main())\n"
        "print('spawned')\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "spawned" in proc.stdout, proc.stderr[-2000:]


def test_first_paint_does_not_import_tensorflow() -> None:
    import subprocess

    probe = (
        "import sys, asyncio\n"
        "from medcam_tui.app import MedcamApp\n"
        "from medcam_core.data.demo import demo_config\n"
        "from pathlib import Path\n"
        "import tempfile\n"
        "out = Path(tempfile.mkdtemp())\n"
        "app = MedcamApp(config=demo_config(out, per_class=4, image_size=32), start_paused=True)\n"
        "from medcam_core.jobqueue.runner import Runner\n"
        "app.runner = Runner(app.config, [app.sink])\n"
        "async def main():\n"
        "    async with app.run_test() as pilot:\n"
        "        await pilot.pause()\n"
        "        print('rows', app.query_one('#queue').row_count)\n"
        "asyncio.run(main())\n"
        "print('TF' if 'tensorflow' in sys.modules else 'NO_TF')\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "rows 10" in proc.stdout and proc.stdout.strip().endswith("NO_TF")


async def test_an_attach_whose_follower_dies_says_so_and_exits_3(tmp_path: Path, monkeypatch) -> None:
    """Attach used to stop following without a word and exit 0."""
    EventLog(tmp_path / "events.jsonl")(Notice("info", "hello"))

    def broken(path: Path, stop: object):
        raise OSError("injected: the disk went away")
        yield

    monkeypatch.setattr(app_module, "follow", broken)
    app = MedcamApp(attach=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.exit_code == EXIT_INTERNAL)
        assert "STOPPED by an error" in str(app.query_one(StatusBar).render())
