"""Told when it ends, the log, the live charts: `[ui] notify` (toast + bell or OSC 9/777), `[queue]
on_job_end` (a real shell command), `L` (medcam.log followed and searched) and the job panel's charts.

Regenerate the snapshots after an intended change with:
python -m pytest tests/test_cockpit_notify.py --snapshot-update
"""

from __future__ import annotations

import io
import math
import shlex
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from sklearn.metrics import roc_auc_score
from textual.widgets import Label, Log
from textual_plotext import PlotextPlot

from medcam_core.config import UiSpec, load_config
from medcam_core.config_rules import NotifyMode
from medcam_core.errors import ConfigError
from medcam_core.events import (
    BatchProgress,
    EpochEnded,
    EpochStarted,
    JobFailed,
    JobStarted,
    JobStopped,
    QueueFinished,
    QueueStarted,
)
from medcam_core.jobqueue.event_log import EventLog
from medcam_core.jobqueue.hooks import JobEndHook
from medcam_core.jobqueue.runner import Runner
from medcam_core.outputs.job_folder import read_predictions
from medcam_tui.app import MedcamApp
from medcam_tui.console import ConsoleSink
from medcam_tui.notify import BEL, terminal_signal
from medcam_tui.screens import log_viewer
from medcam_tui.screens.log_viewer import LogViewer, tail
from medcam_tui.view_model import Curve
from medcam_tui.widgets.job_panel import CurveChart, epoch_axis, epoch_ticks

from conftest import dataset_spec, tiny_preset, tiny_queue
from test_tui import wait_for

pytestmark = pytest.mark.cost(26)

SIZE = (140, 40)
ENV_DUMP = 'env | grep "^MEDCAM_" | sort > "$MEDCAM_JOB_ID.env"'


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def failing_queue(tmp_path: Path, **changes: object):
    """One job whose dataset folder does not exist: it fails at load, before any training."""
    return replace(tiny_queue((dataset_spec(tmp_path, "missing"),), tmp_path / "out"), **changes)


def toasts(app: MedcamApp) -> list[tuple[str, str]]:
    return [(n.message, n.severity) for n in app._notifications]


# -- told when it ends ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "signal"),
    [
        (NotifyMode.BELL, BEL),
        (NotifyMode.DESKTOP, "\x1b]9;medcam-tui: {body}\a\x1b]777;notify;medcam-tui;{body}\a"),
        (NotifyMode.NONE, ""),
    ],
    ids=["bell", "desktop", "none"],
)
async def test_a_failing_job_toasts_and_signals_the_terminal_as_configured(
    tmp_path: Path, mode: NotifyMode, signal: str
) -> None:
    config = failing_queue(tmp_path, ui=UiSpec(mode))
    app = MedcamApp(config=config, start_paused=True)
    app.runner = Runner(config, [app.sink])
    async with app.run_test(size=SIZE) as pilot:
        written: list[str] = []
        app._driver.write = written.append  # what reaches the terminal
        await pilot.press("p")
        await wait_for(pilot, lambda: app.view.finished)
        await pilot.pause()
    failed = next(message for message, severity in toasts(app) if severity == "error")
    assert failed.startswith("missing_standard failed at load: ") and "not found" in failed
    ended = next(message for message, _ in toasts(app) if message.startswith("queue finished in "))
    assert ended.endswith(": 1 failed")
    assert written == [signal.format(body=failed), signal.format(body=ended)] if signal else written == []


def test_desktop_notifications_are_one_clean_line_and_pass_through_tmux() -> None:
    hostile = "job\x1b]0;pwned\a failed;\nnext line"
    plain = terminal_signal(NotifyMode.DESKTOP, "medcam;tui", hostile)
    osc9, osc777 = plain.split("\a")[:2]
    assert osc9.startswith("\x1b]9;medcam,tui: ") and osc777.startswith("\x1b]777;notify;medcam,tui;")
    assert plain.count("\x1b") == 2 and plain.count("\a") == 2 and "\n" not in plain  # only its own controls
    assert "pwned" in osc9 and "failed;" in osc777  # the text is kept, its escape sequence is not
    wrapped = terminal_signal(NotifyMode.DESKTOP, "t", "b", in_tmux=True)
    assert wrapped == "\x1bPtmux;\x1b\x1b]9;t: b\a\x1b\\" + "\x1bPtmux;\x1b\x1b]777;notify;t;b\a\x1b\\"
    assert terminal_signal(NotifyMode.BELL, "t", "b", in_tmux=True) == "\a"


async def test_attaching_to_an_old_failure_toasts_but_does_not_ring(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log(QueueStarted([{"id": "a_standard", "dataset": "a", "preset": "standard", "status": "queued"}], "", "", ""))
    log(JobStarted("a_standard", "a", "standard", 1, 1, 2, time=time.time() - 3600))
    log(JobFailed("a_standard", "load", "an old failure", "hint", "", 1.0, time=time.time() - 3600))
    app = MedcamApp(attach=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        written: list[str] = []
        app._driver.write = written.append
        await wait_for(pilot, lambda: app.view.failures)
        await pilot.pause()
        assert written == []
        log(JobFailed("a_standard", "fit", "a new failure", "hint", "", 1.0))  # written while attached
        await wait_for(pilot, lambda: len(app.view.failures) == 2)
        await pilot.pause()
        assert written == [BEL]
    log.close()
    assert [m for m, _ in toasts(app) if "failure" in m] == [
        "a_standard failed at load: an old failure",
        "a_standard failed at fit: a new failure",
    ]


# -- on_job_end -------------------------------------------------------------------------------------


def test_on_job_end_gets_the_job_in_its_environment_after_real_training(synthetic_root: Path, tmp_path: Path) -> None:
    config = replace(
        tiny_queue(
            (dataset_spec(synthetic_root, "pneumonia"), dataset_spec(tmp_path, "missing")),
            tmp_path / "out",
            {"standard": tiny_preset(epochs=1)},
        ),
        on_job_end=ENV_DUMP,
    )
    counts = Runner(config).run()
    assert counts.get("done") == 1 and counts.get("failed") == 1
    done = read_env(config.output / "pneumonia_standard.env")
    folder = Path(done["MEDCAM_JOB_FOLDER"])
    assert done["MEDCAM_JOB_ID"] == "pneumonia_standard" and done["MEDCAM_JOB_STATUS"] == "done"
    assert folder == config.output / "densenet121_pneumonia_standard_models" and folder.is_dir()
    rows = [r for r in read_predictions(folder / "results" / "predictions.csv") if r["split"] == "test"]
    expected = roc_auc_score([r["label"] for r in rows], [r["probability"] for r in rows])
    assert math.isclose(float(done["MEDCAM_TEST_AUROC"]), expected, abs_tol=1e-9)
    failed = read_env(config.output / "missing_standard.env")
    assert failed == {
        "MEDCAM_JOB_FOLDER": "",
        "MEDCAM_JOB_ID": "missing_standard",
        "MEDCAM_JOB_STATUS": "failed",
        "MEDCAM_TEST_AUROC": "",
    }


@pytest.mark.parametrize(
    ("command", "timeout", "says"),
    [
        ("echo to the log; echo 'disk full' >&2; exit 3", 10.0, "exited with status 3: disk full"),
        ("medcam_no_such_program_here --now", 10.0, "exited with status 127: "),
        ("sleep 30 & sleep 30; wait", 0.5, "did not finish within 0.5 s and was stopped"),
    ],
)
def test_a_failing_on_job_end_becomes_a_warning_never_an_exception(
    tmp_path: Path, command: str, timeout: float, says: str
) -> None:
    hook = JobEndHook(command, timeout, tmp_path)
    start = time.monotonic()
    notice = hook(JobStopped("a_standard", "skipped", "by you", 1.0))
    assert time.monotonic() - start < 5  # a timeout stops the command and what it started
    assert notice is not None and notice.level == "warning" and notice.job_id == "a_standard"
    assert notice.message.startswith("on_job_end after a_standard (skipped) ") and says in notice.message
    assert notice.message.endswith("; the queue goes on")
    if "127" in says:
        assert "not found" in notice.message
    assert hook(QueueFinished({}, 1.0)) is None  # only a job's end runs it
    assert JobEndHook("", 1.0, tmp_path)(JobFailed("a", "load", "e", "h", "", 1.0)) is None


async def test_a_failing_on_job_end_shows_a_warning_and_the_queue_still_finishes(tmp_path: Path) -> None:
    config = failing_queue(tmp_path, on_job_end="exit 9")
    app = MedcamApp(config=config)
    app.runner = Runner(config, [app.sink])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.view.finished)
        await pilot.pause()
    warning = [m for m, severity in toasts(app) if severity == "warning" and m.startswith("on_job_end")]
    assert warning == ["on_job_end after missing_standard (failed) exited with status 9; the queue goes on"]
    assert app.runner.queue.get("missing_standard").status == "failed"


def test_the_headless_console_prints_an_on_job_end_failure(tmp_path: Path) -> None:
    out = io.StringIO()
    config = failing_queue(tmp_path, on_job_end=f"cat {shlex.quote(str(tmp_path / 'absent'))}")
    Runner(config, [ConsoleSink(Console(file=out, width=300))]).run()
    text = out.getvalue()
    assert "warning: on_job_end after missing_standard (failed) exited with status 1: cat: " in text
    assert "queue finished" in text.splitlines()[-1]


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('[ui]\nnotify = "loud"\n', "ui.notify", '"bell"'),
        ("[ui]\nsound = true\n", "ui.sound", "unknown key"),
        ("[queue]\non_job_end = 3\n", "queue.on_job_end", "a shell command"),
        ("[queue]\non_job_end_timeout = 0\n", "queue.on_job_end_timeout", "seconds"),
        ("ui = 1\n", "ui", "a table"),
    ],
)
def test_bad_notify_and_on_job_end_settings_name_file_key_and_expectation(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    path = tmp_path / "medcam.toml"
    path.write_text(text + '[[datasets]]\nname = "a"\npath = "data"\npositive = ["yes"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key and expected in info.value.expected and str(path) in str(info.value)


def test_notify_and_on_job_end_settings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "medcam.toml"
    path.write_text(
        '[queue]\non_job_end = "echo $MEDCAM_JOB_ID"\non_job_end_timeout = 5\n[ui]\nnotify = "desktop"\n'
        '[[datasets]]\nname = "a"\npath = "data"\npositive = ["yes"]\n'
    )
    config = load_config(path)
    assert config.ui.notify == NotifyMode.DESKTOP and config.on_job_end == "echo $MEDCAM_JOB_ID"
    assert config.on_job_end_timeout == 5.0


# -- the log viewer ---------------------------------------------------------------------------------


def attached_root(tmp_path: Path, lines: list[str]) -> Path:
    root = tmp_path / "new"
    root.mkdir()
    EventLog(root / "events.jsonl")(QueueStarted([], "new", "CPU", "medcam.toml", time=1_790_000_000.0))
    (root / "medcam.log").write_text("".join(f"{line}\n" for line in lines))
    return root


async def test_the_log_viewer_follows_new_lines_and_finds_a_search_term(tmp_path: Path) -> None:
    root = attached_root(tmp_path, [f"2026-12-01 INFO medcam: line {i}" for i in range(200)])
    app = MedcamApp(attach=root)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L")
        assert isinstance(app.screen, LogViewer)
        screen = app.screen
        log = screen.query_one(Log)
        await wait_for(pilot, lambda: log.line_count == 200)
        with open(root / "medcam.log", "a") as fh:
            fh.write("2026-12-01 ERROR medcam: job x failed: Needle in the stack\npartial wri")
        await wait_for(pilot, lambda: log.line_count == 201)
        assert log.lines[-1] == "2026-12-01 ERROR medcam: job x failed: Needle in the stack"
        with open(root / "medcam.log", "a") as fh:
            fh.write("te, then a needle again\n")
        await wait_for(pilot, lambda: log.line_count == 202)
        assert log.lines[-1] == "partial write, then a needle again"  # a line is shown once whole

        log.scroll_home(animate=False)
        await pilot.press("slash", *"NEEDLE", "enter")
        status = screen.query_one("#log-status", Label)
        assert screen.match_line == 200 and "match 1 of 2 at line 201" in str(status.render())
        assert log.scroll_offset.y <= 200 < log.scroll_offset.y + log.size.height  # the match is in view
        await pilot.press("n")
        assert screen.match_line == 201 and "match 2 of 2" in str(status.render())
        await pilot.press("n")
        assert screen.match_line == 200 and "(wrapped)" in str(status.render())
        await pilot.press("N")
        assert screen.match_line == 201
        await pilot.press("slash", *"nowhere", "enter")
        assert "no match for 'nowhere'" in str(status.render())
        await pilot.press("escape")
        assert not isinstance(app.screen, LogViewer)


def test_tail_reads_the_end_of_a_big_log_and_starts_over_when_it_is_replaced(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(log_viewer, "START_BYTES", 25)
    path = tmp_path / "medcam.log"
    path.write_text("first line\nsecond line\nthird line\n")  # 34 bytes: the start falls inside line 1
    stop = threading.Event()
    chunks = tail(path, stop, poll_s=0.01)
    assert next(chunks).lines == ["second line", "third line"]
    path.unlink()
    assert next(chunks).reset and path.exists() is False
    path.write_text("new log\n")
    assert next(chunks).lines == ["new log"]  # a new file is read from its start
    path.write_text("")
    assert next(chunks).reset
    stop.set()


def test_a_log_that_does_not_exist_yet_is_waited_for(tmp_path: Path) -> None:
    stop = threading.Event()
    chunks = tail(tmp_path / "medcam.log", stop, poll_s=0.01)
    first = next(chunks)
    assert first.missing and not first.reset
    (tmp_path / "medcam.log").write_text("hello\n")
    assert next(chunks).lines == ["hello"]
    stop.set()


def test_log_viewer_snapshot(snap_compare, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    lines = [f"2026-12-01 10:00:{i:02d},000 INFO medcam: epoch {i} of pneumonia_standard" for i in range(40)]
    lines[30] = "2026-12-01 10:00:30,000 ERROR medcam: job cardiomegaly_standard failed at load: folder not found"
    attached_root(tmp_path, lines)
    app = MedcamApp(attach=Path("new"))

    async def search(pilot) -> None:
        await pilot.press("L")
        await wait_for(pilot, lambda: app.screen.query_one(Log).line_count == 40)
        await pilot.press("slash", *"failed", "enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=search)


# -- the job panel's charts -------------------------------------------------------------------------


def loss(epoch: int) -> float:
    return round(0.7 * math.exp(-epoch / 8) + 0.1, 6)


def val_loss(epoch: int) -> float:  # lowest at epoch 30, then it overfits
    return round(0.3 + ((epoch - 30) / 40) ** 2, 6)


def chart_history(root: Path, epochs: int) -> None:
    log = EventLog(root / "events.jsonl")
    job = {"id": "a_standard", "dataset": "a", "preset": "standard", "status": "queued"}
    log(QueueStarted([job], "new", "CPU", "medcam.toml", time=1_790_000_000.0))
    log(JobStarted("a_standard", "a", "standard", 1, 1, epochs, time=1_790_000_000.0))
    for epoch in range(1, epochs + 1):
        t = 1_790_000_000.0 + epoch
        log(EpochStarted("a_standard", epoch, epochs, 10, time=t))
        logs = {"loss": loss(epoch), "val_loss": val_loss(epoch), "accuracy": 0.5 + epoch / 200, "val_accuracy": 0.6}
        log(EpochEnded("a_standard", epoch, epochs, logs, 1e-3, 1.0, time=t + 0.5))
    log(EpochStarted("a_standard", epochs + 1, epochs + 1, 10, time=1_790_000_000.0 + epochs + 1))
    log.close()


def plot_text(app: MedcamApp, metric: str) -> list[str]:
    return app.query_one(f"#plot-{metric}", PlotextPlot).render().plain.splitlines()


@pytest.mark.parametrize("epochs", [3, 50])
async def test_the_charts_show_train_and_validation_with_the_best_epoch(tmp_path: Path, epochs: int) -> None:
    chart_history(tmp_path, epochs)
    app = MedcamApp(attach=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.view.current is not None and app.view.current.epoch == epochs + 1)
        await pilot.pause()
        lines = plot_text(app, "loss")
        best = min(range(1, epochs + 1), key=val_loss)
        assert lines[0].strip() == f"loss · best epoch {best} by val_loss"
        values = [f(e) for e in range(1, epochs + 1) for f in (loss, val_loss)]
        y_labels = [line.split("┤")[0].strip() for line in lines if "┤" in line]
        precision = 10 ** -len(y_labels[0].partition(".")[2])
        assert float(y_labels[0]) == pytest.approx(max(values), abs=precision)  # the axis spans both curves
        assert float(y_labels[-1]) == pytest.approx(min(values), abs=precision)
        ticks = [int(t) for t in lines[-1].split()]
        assert ticks == ([1, 2, 3] if epochs == 3 else [1, 11, 21, 31, 41, 50])  # readable: a few whole epochs
        legend = str(app.query_one("#label-val_loss", Label).render())
        assert f"val_loss {val_loss(epochs):.3f} · best {val_loss(best):.3f} @{best}" in legend
        axis, rows = lines[-2], lines[2:-2]
        left, right, marked = axis.index("└"), axis.index("┘"), axis.index("┴")
        expected = left + (best - 0.5) / epochs * (right - left)  # the x range is 0.5 … epochs + 0.5
        assert abs(marked - expected) <= 1.5  # a vertical line at the best epoch …
        assert sum(row[marked] == "│" for row in rows) >= len(rows) // 2  # … drawn across the plot


async def test_batch_progress_moves_the_bar_but_does_not_redraw_the_charts(tmp_path: Path, monkeypatch) -> None:
    chart_history(tmp_path, 3)
    drawn: list[int] = []
    original = CurveChart.show
    monkeypatch.setattr(CurveChart, "show", lambda self, c, job: drawn.append(1) or original(self, c, job))
    app = MedcamApp(attach=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.view.current is not None and app.view.current.epoch == 4)
        await pilot.pause()
        before = len(drawn)
        log = EventLog(tmp_path / "events.jsonl")
        for batch in range(1, 6):
            log(BatchProgress("a_standard", 4, batch, 10, 32.0, 0.2))
        await wait_for(pilot, lambda: "batch 5/10" in str(app.query_one("#job-rate", Label).render()))
        assert len(drawn) == before
        log(EpochEnded("a_standard", 4, 4, {"loss": 0.1, "val_loss": 0.2}, 1e-3, 1.0))
        await wait_for(pilot, lambda: len(drawn) == before + 2)  # both charts, once
        log.close()


def test_the_epoch_axis_survives_a_nan_epoch_and_ticks_stay_few() -> None:
    curve = Curve("val_loss")
    for epoch, value in [(1, None), (2, 0.5), (3, 0.3), (4, 0.4), (5, float("nan"))]:
        curve.add(epoch, value)
    assert epoch_axis(curve) == [2, 3, 4]  # anchored on the best point, epoch 3
    assert epoch_ticks(1, 3) == [1, 2, 3] and epoch_ticks(1, 12) == list(range(1, 13))
    assert epoch_ticks(1, 300) == [1, 61, 121, 181, 241, 300] and epoch_ticks(1, 52) == [1, 11, 21, 31, 41, 52]


def test_job_panel_charts_snapshot(snap_compare, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "new").mkdir()
    chart_history(tmp_path / "new", 12)
    app = MedcamApp(attach=Path("new"))

    async def settle(pilot) -> None:
        await wait_for(pilot, lambda: app.view.current is not None and app.view.current.epoch == 13)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
