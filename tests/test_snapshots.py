"""SVG snapshots of each screen, rendered from a fixed queue history (fixed size, no cursor blink).

Regenerate after an intended change with: python -m pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medcam_tui.app import MedcamApp

from scripted_queue import write_scripted_queue

SIZE = (140, 40)


@pytest.fixture
def attached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    last = write_scripted_queue(tmp_path / "new")
    app = MedcamApp(attach=Path("new"))

    async def settle(pilot) -> None:
        while app.view.last_time != last:
            await pilot.pause(0.02)
        await pilot.pause()

    return app, settle


def test_home_mid_training(snap_compare, attached) -> None:
    app, settle = attached
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_model_browser(snap_compare, attached) -> None:
    app, settle = attached

    async def browse(pilot) -> None:
        await settle(pilot)
        await pilot.press("b")
        while not app.screen.loaded:  # the browser reads the job folders in a worker
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=browse)


def test_failure_traceback(snap_compare, attached) -> None:
    app, settle = attached

    async def traceback(pilot) -> None:
        await settle(pilot)
        app.query_one("#failures").focus()
        await pilot.press("t")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=traceback)


def test_help(snap_compare, attached) -> None:
    app, settle = attached

    async def help_screen(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=help_screen)
