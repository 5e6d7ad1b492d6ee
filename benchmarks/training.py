"""Frozen-feature caching: one job trained on cached features vs plain `fit` on images, same data.

Both runs go through the real runner (load, build, fit, evaluate, explain, save) on one synthetic
dataset at 224 px with the last 20 layers trainable, for the standard preset's 10 epochs (no early
stop, so both train the same epochs); epoch times come from the events.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.common import Result, StageClock, median, stage_details


def _job(cache: bool, per_class: int, epochs: int) -> tuple[float, float, dict[str, float]]:
    from medcam_core.config import BUILTIN_PRESETS, EvaluationSpec, QueueConfig
    from medcam_core.data.demo import demo_config
    from medcam_core.jobqueue.runner import Runner

    out = Path(tempfile.mkdtemp(prefix="medcam-bench-"))
    demo = demo_config(out, per_class=per_class, image_size=224)
    preset = replace(
        BUILTIN_PRESETS["standard"],
        image_size=224,
        weights="none",
        epochs=epochs,
        patience=epochs,
        cache_features=cache,
        monitor="val_auc",
        learning_rate=1e-3,
        bn_momentum=0.9,
    )
    config = QueueConfig(
        datasets=demo.datasets[:1],
        presets={"standard": preset},
        order=("standard",),
        output=out,
        evaluation=EvaluationSpec(bootstrap=200),
    )
    epoch_seconds: list[float] = []
    clock = StageClock()
    runner = Runner(config, [clock, lambda e: epoch_seconds.append(e.seconds) if e.kind == "epoch_ended" else None])
    start = time.perf_counter()
    runner.run()
    return time.perf_counter() - start, median(epoch_seconds[1:] or epoch_seconds), clock.seconds


def run(quick: bool = False) -> list[Result]:
    from medcam_core.config import BUILTIN_PRESETS

    per_class, epochs = (60, 3) if quick else (250, BUILTIN_PRESETS["standard"].epochs)
    cached_job, cached_epoch, cached_stages = _job(True, per_class, epochs)
    plain_job, plain_epoch, plain_stages = _job(False, per_class, epochs)
    stages = stage_details(cached=cached_stages, plain=plain_stages)
    details = {"images": 2 * per_class, "epochs": epochs, "image_size": 224}
    return [
        Result(
            "cached_vs_plain_epoch",
            plain_epoch / cached_epoch,
            goal=5.0,
            better="higher",
            details={**details, "plain_epoch_s": round(plain_epoch, 2), "cached_epoch_s": round(cached_epoch, 3)},
        ),
        Result(
            "cached_vs_plain_job",
            plain_job / cached_job,
            goal=5.0,
            better="higher",
            details={**details, "plain_job_s": round(plain_job, 1), "cached_job_s": round(cached_job, 1), **stages},
        ),
    ]
