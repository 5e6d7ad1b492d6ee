"""Augmentation with the feature cache: K cached augmented views vs plain `fit` augmenting live.

Both jobs go through the real runner on one synthetic dataset at 224 px, the standard preset (10
epochs, no early stop) with the same `[augment]` table; one caches `augment_views` (the default)
views of every training image, the other augments every epoch afresh. The speed is only worth
having if the model is as good: each job's validation AUROC is printed with its DeLong interval.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import Result, StageClock, median, stage_details

TABLE = {"rotation": 10.0, "shift": 0.05, "zoom": 0.1, "brightness": 0.1, "contrast": 0.1}


def _job(views: int, per_class: int, epochs: int) -> tuple[float, float, tuple[float, tuple[float, float]], dict]:
    from medcam_core.config import Augment, EvaluationSpec, QueueConfig
    from medcam_core.data.demo import demo_config
    from medcam_core.evaluate.intervals import auroc_estimate
    from medcam_core.jobqueue.runner import Runner
    from medcam_core.outputs.job_folder import JobFolder, read_predictions

    out = Path(tempfile.mkdtemp(prefix="medcam-bench-"))
    demo = demo_config(out, per_class=per_class, image_size=224)
    preset = replace(demo.presets["standard"], image_size=224, epochs=epochs, patience=epochs, augment=Augment(**TABLE))
    preset = replace(preset, augment_views=views)
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
    counts = runner.run()
    seconds = time.perf_counter() - start
    if counts.get("done") != 1:
        raise RuntimeError(f"the benchmark job did not finish: {counts}")
    folder = JobFolder.committed(out, f"densenet121_{demo.datasets[0].name}_standard_models")
    rows = [r for r in read_predictions(folder.predictions_file) if r["split"] == "val"]
    y = np.array([r["label"] for r in rows])
    p = np.array([r["probability"] for r in rows])
    est = auroc_estimate(y, p)
    return seconds, median(epoch_seconds[1:] or epoch_seconds), (est.value, est.interval), clock.seconds


def run(quick: bool = False) -> list[Result]:
    from medcam_core.config import BUILTIN_PRESETS

    default_views = BUILTIN_PRESETS["standard"].augment_views
    per_class, epochs = (60, 3) if quick else (250, BUILTIN_PRESETS["standard"].epochs)
    cached_s, cached_epoch, (cached_auc, cached_ci), cached_stages = _job(default_views, per_class, epochs)
    plain_s, plain_epoch, (plain_auc, plain_ci), plain_stages = _job(0, per_class, epochs)
    within = cached_ci[0] <= plain_auc <= cached_ci[1] and plain_ci[0] <= cached_auc <= plain_ci[1]
    fmt = lambda ci: f"[{ci[0]:.3f}, {ci[1]:.3f}]"  # noqa: E731
    stages = stage_details(cached=cached_stages, plain=plain_stages)
    return [
        Result(
            "augment_cached_vs_live_job",
            plain_s / cached_s,
            goal=3.0,
            better="higher",
            details={
                "images": 2 * per_class,
                "epochs": epochs,
                "augment_views": default_views,
                "live_job_s": round(plain_s, 1),
                "cached_job_s": round(cached_s, 1),
                "live_epoch_s": round(plain_epoch, 2),
                "cached_epoch_s": round(cached_epoch, 3),
                "val_auroc_cached": f"{cached_auc:.3f} {fmt(cached_ci)}",
                "val_auroc_live": f"{plain_auc:.3f} {fmt(plain_ci)}",
                "aurocs_within_each_others_interval": within,
                **stages,
            },
        ),
    ]
