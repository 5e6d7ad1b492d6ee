"""Augmentation with the feature cache: K cached augmented views vs plain `fit` augmenting live.

Both jobs go through the real runner on one synthetic dataset at 224 px, the standard preset (10
epochs, no early stop) with the same `[augment]` table; the cached ones keep K views of every
training image (K in VIEWS), the live one augments every epoch afresh. The speed is only worth
having if the model is as good: each job's validation AUROC is printed with its DeLong interval.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import Result, StageClock, median, stage_details

VIEWS = (2, 4)  # cached views per training image, each measured against the same live job
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

    per_class, epochs = (60, 3) if quick else (250, BUILTIN_PRESETS["standard"].epochs)
    live_s, live_epoch, (live_auc, live_ci), live_stages = _job(0, per_class, epochs)
    fmt = lambda auc, ci: f"{auc:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"  # noqa: E731
    results = []
    for views in VIEWS[:1] if quick else VIEWS:
        cached_s, cached_epoch, (auc, ci), stages = _job(views, per_class, epochs)
        within = ci[0] <= live_auc <= ci[1] and live_ci[0] <= auc <= live_ci[1]
        results.append(
            Result(
                f"augment_{views}_views_vs_live_job",
                live_s / cached_s,
                goal=3.0,
                better="higher",
                details={
                    "images": 2 * per_class,
                    "epochs": epochs,
                    "default_views": BUILTIN_PRESETS["standard"].augment_views,
                    "live_job_s": round(live_s, 1),
                    "cached_job_s": round(cached_s, 1),
                    "live_epoch_s": round(live_epoch, 2),
                    "cached_epoch_s": round(cached_epoch, 3),
                    "val_auroc_cached": fmt(auc, ci),
                    "val_auroc_live": fmt(live_auc, live_ci),
                    "aurocs_within_each_others_interval": within,
                    **stage_details(cached=stages, live=live_stages),
                },
            )
        )
    return results
