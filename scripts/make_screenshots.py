"""Render the real app, training the real demo queue, into screenshots/ (SVG, and PNG via rsvg-convert).

    python scripts/make_screenshots.py            # ~2 min on 2 cores

A broken dataset is added in front of the demo so the failure log has something to show.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from medcam_core.config import DatasetSpec
from medcam_core.data.demo import demo_config
from medcam_core.jobqueue.event_log import EventLog
from medcam_core.jobqueue.runner import Runner
from medcam_tui.app import MedcamApp

OUT = Path(__file__).resolve().parents[1] / "screenshots"
SIZE = (140, 40)


async def wait_for(pilot, predicate, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo queue did not get there in time")
        await pilot.pause(0.1)


async def shoot(root: Path) -> list[Path]:
    demo = demo_config(root)
    broken = DatasetSpec(name="nih_cxr", path=root / "not-downloaded-yet", positive=("Cardiomegaly",))
    config = replace(demo, datasets=(broken, *demo.datasets))
    app = MedcamApp(config=config)
    log = EventLog(config.output / "events.jsonl")
    app.runner = Runner(config, [log, app.sink])
    shots: list[Path] = []

    def save(name: str) -> None:
        shots.append(Path(app.save_screenshot(filename=f"{name}.svg", path=str(OUT))))

    async with app.run_test(size=SIZE) as pilot:
        jobs = app.view.jobs
        await wait_for(
            pilot, lambda: jobs["pneumonia_intensive"].status == "done" and jobs["cardiomegaly_standard"].epoch >= 4
        )
        await pilot.pause(0.3)
        save("home_training")
        await pilot.press("b")
        browser = app.screen
        await wait_for(pilot, lambda: browser.loaded, timeout=60)  # the job folders are read in a worker
        await pilot.pause(0.5)
        save("model_browser")
        await pilot.press("space", "down", "space", "C")  # both presets of pneumonia, side by side
        compare = app.screen
        await wait_for(pilot, lambda: getattr(compare, "comparison", None) is not None, timeout=120)
        await pilot.pause(0.5)
        save("compare")
        await pilot.press("escape")
        await pilot.press("g")
        screen = app.screen
        await wait_for(pilot, lambda: getattr(screen, "current", None) is not None, timeout=180)
        await pilot.pause(0.5)
        save("gradcam")
        await pilot.press("escape", "escape")
        app.query_one("#failures").focus()
        await pilot.press("t")
        await pilot.pause(0.3)
        save("failure_traceback")
        await pilot.press("escape", "question_mark")
        await pilot.pause(0.3)
        save("help")
        await pilot.press("escape", "L")
        await pilot.pause(1.0)
        save("log_viewer")
        await pilot.press("escape")
        queue = app.query_one("#queue")
        queue.focus()
        queue.move_cursor(row=[key.value for key in queue.rows].index("pneumonia_standard"))  # its contact sheet
        await pilot.press("d")
        data = app.screen
        await wait_for(pilot, lambda: getattr(data, "preview", None) is not None, timeout=120)
        await pilot.pause(0.5)
        save("data_screen")
        await pilot.press("escape", "q", "y")
        await wait_for(pilot, lambda: not app.is_running, timeout=120)
    log.close()
    return shots


def main() -> int:
    OUT.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="medcam-shots-"))
    try:
        shots = asyncio.run(shoot(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    converter = shutil.which("rsvg-convert")
    for svg in shots:
        print(svg)
        if converter:
            subprocess.run([converter, "-w", "1400", str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
            print(svg.with_suffix(".png"))
    if not converter:
        print("rsvg-convert not found (apt-get install librsvg2-bin): SVG only", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
