"""The TUI: first paint next to `import tensorflow`, and key-press latency while training runs.

Latency is measured in-process on the live demo queue at 224 px (feature pass and training saturate
both cores): every 100 ms a key event is handed to the driver, as a terminal key press is, and timed
until the table's cursor has moved. (Pilot.press is not used: it also waits for all animations to
finish, which under constant progress updates measures the harness, not the user's wait.)
The same run is repeated with the naive sink (every batch event delivered by a blocking
`call_from_thread`, no throttle) to show what the throttled, non-blocking `post_message` path buys.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.common import Result, median, percentile, time_python

FIRST_PAINT = """
import time, asyncio, tempfile
t0 = time.perf_counter()
from pathlib import Path
from medcam_tui.app import MedcamApp
from medcam_core.config import BUILTIN_PRESETS, DatasetSpec, QueueConfig
from medcam_core.jobqueue.runner import Runner
out = Path(tempfile.mkdtemp())
spec = DatasetSpec(name="x", path=out, positive=("p",))
config = QueueConfig(datasets=(spec,), presets=dict(BUILTIN_PRESETS), output=out)
app = MedcamApp(config=config, start_paused=True)
app.runner = Runner(config, [app.sink])
async def main():
    async with app.run_test() as pilot:
        await pilot.pause()
        print(time.perf_counter() - t0)
asyncio.run(main())
"""


def first_paint(repeats: int) -> Result:
    import subprocess
    import sys

    paints = []
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-c", FIRST_PAINT], capture_output=True, text=True, check=True)
        paints.append(float(proc.stdout.strip().splitlines()[-1]))
    tf = time_python("import tensorflow", repeats)
    return Result(
        "tui_first_paint_vs_tf_import",
        median(tf) / median(paints),
        goal=2.0,
        better="higher",
        details={"first_paint_s": round(median(paints), 3), "import_tensorflow_s": round(median(tf), 3)},
    )


async def _latencies(naive: bool, seconds: float, image_size: int) -> list[float]:
    from textual import events

    from medcam_core.data.demo import demo_config
    from medcam_core.jobqueue.runner import Runner
    from medcam_tui.app import MedcamApp
    from medcam_tui.messages import EngineEvent
    from medcam_tui.widgets.queue_table import QueueTable

    out = Path(tempfile.mkdtemp(prefix="medcam-bench-"))
    config = demo_config(out, image_size=image_size)
    config = replace(config, datasets=config.datasets[:2])
    app = MedcamApp(config=config)
    if naive:

        def sink(event: object) -> None:
            app.call_from_thread(app.on_engine_event, EngineEvent(event))  # type: ignore[arg-type]

        app.runner = Runner(config, [sink], progress_throttle_s=0.0)
    else:
        app.runner = Runner(config, [app.sink])
    latencies: list[float] = []
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one(QueueTable)
        end = time.monotonic() + seconds
        key = "down"
        while time.monotonic() < end:
            before = table.cursor_row
            start = time.perf_counter()
            event = events.Key(key, None)
            event.set_sender(app)
            app._driver.send_message(event)  # what the terminal driver does for a real key press
            while table.cursor_row == before:
                await asyncio.sleep(0.0005)
            latencies.append(time.perf_counter() - start)
            key = "up" if key == "down" else "down"
            await asyncio.sleep(0.1)
        app.runner.control.quit()
        while any(w.name == "queue" and w.is_running for w in app.workers):
            await pilot.pause(0.1)
    return latencies


def key_latency(seconds: float, image_size: int) -> list[Result]:
    ours = asyncio.run(_latencies(False, seconds, image_size))
    naive = asyncio.run(_latencies(True, seconds, image_size))
    ms = lambda v: round(v * 1000, 1)  # noqa: E731
    details = {
        "presses": len(ours),
        "p50_ms": ms(percentile(ours, 50)),
        "p95_ms": ms(percentile(ours, 95)),
        "max_ms": ms(max(ours)),
        "naive_p95_ms": ms(percentile(naive, 95)),
        "naive_max_ms": ms(max(naive)),
        "image_size": image_size,
    }
    return [
        Result(
            "tui_key_latency_p95", percentile(ours, 95) * 1000, goal=100, better="lower", unit=" ms", details=details
        ),
        Result(
            "tui_key_latency_max",
            max(ours) * 1000,
            goal=250,
            better="lower",
            unit=" ms",
            details={"presses": len(ours)},
        ),
        Result(
            "tui_naive_vs_ours_max",
            max(naive) / max(ours),
            goal=1.0,
            better="higher",
            details={
                "naive_max_ms": details["naive_max_ms"],
                "ours_max_ms": details["max_ms"],
                "naive_p95_ms": details["naive_p95_ms"],
                "ours_p95_ms": details["p95_ms"],
            },
        ),
    ]


def run(quick: bool = False) -> list[Result]:
    return [first_paint(2 if quick else 5), *key_latency(30 if quick else 90, 224)]
