"""Monitoring overhead: fit with the event callback and its sinks (JSONL log, console) vs without.

The fastest real training step is the cached head (ms per batch), where per-batch overhead shows most.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import Result, median


def run(quick: bool = False) -> list[Result]:
    from rich.console import Console

    from medcam_core.config import BUILTIN_PRESETS
    from medcam_core.jobqueue.control import QueueControl
    from medcam_core.jobqueue.event_log import EventLog
    from medcam_core.train.callbacks import EventCallback
    from medcam_core.train.input_pipeline import tensor_batches
    from medcam_core.train.model import build_model, compile_model, split_frozen
    from medcam_tui.console import ConsoleSink

    preset = BUILTIN_PRESETS["standard"].__class__(name="bench", image_size=224, weights="none")
    split, _ = split_frozen(build_model(preset, None).model)
    n = 256 if quick else 1024
    rng = np.random.default_rng(0)
    features = rng.random((n, 7, 7, 960), dtype=np.float32)
    labels = (rng.random(n) > 0.5).astype(np.float32)
    data = tensor_batches(features, labels, 16, True, 0)
    compile_model(split.head, 1e-4)
    split.head.fit(data, epochs=1, verbose=0)  # trace once, outside the timing
    log = EventLog(Path(tempfile.mkdtemp()) / "events.jsonl")
    console = ConsoleSink(Console(file=io.StringIO(), force_terminal=True))

    def sinks(event) -> None:
        log(event)
        console(event)

    def epoch(with_events: bool) -> float:
        callbacks = [EventCallback("bench", sinks, QueueControl(), 16)] if with_events else []
        start = time.perf_counter()
        split.head.fit(data, epochs=1, verbose=0, callbacks=callbacks)
        return time.perf_counter() - start

    rounds = 4 if quick else 12
    plain, monitored = [], []
    for i in range(rounds):  # interleaved, first one then the other first, so drift and order hit both alike
        for with_events in (False, True) if i % 2 == 0 else (True, False):
            (monitored if with_events else plain).append(epoch(with_events))
    log.close()
    paired = [m / p for m, p in zip(monitored, plain, strict=True)]  # each round's two epochs ran back to back
    return [
        Result(
            "monitoring_overhead",
            median(paired),
            goal=1.02,
            better="lower",
            details={
                "plain_epoch_s": round(median(plain), 3),
                "monitored_epoch_s": round(median(monitored), 3),
                "batches": n // 16,
                "rounds": rounds,
            },
        ),
    ]
