"""Augmentation with the feature cache: K cached augmented views vs plain `fit` augmenting live.

Both jobs go through the real runner on one synthetic dataset at 224 px, the standard preset (10
epochs, no early stop) with the same `[augment]` table; the cached ones keep K views of every
training image (K in VIEWS), the live one augments every epoch afresh. The speed is only worth
having if the model is as good: each job's validation AUROC is printed with its DeLong interval.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import JobRun, Result, one_job, stage_details

VIEWS = (2, 4)  # cached views per training image, each measured against the same live job
TABLE = {"rotation": 10.0, "shift": 0.05, "zoom": 0.1, "brightness": 0.1, "contrast": 0.1}


def _job(views: int, per_class: int, epochs: int) -> tuple[JobRun, float, tuple[float, float]]:
    """A job with the table above and `views` cached views (0: live), and its validation AUROC."""
    from medcam_core.config import Augment
    from medcam_core.evaluate.intervals import auroc_estimate
    from medcam_core.outputs.job_folder import read_predictions

    job = one_job(per_class, epochs=epochs, augment=Augment(**TABLE), augment_views=views)
    rows = [r for r in read_predictions(job.folder.predictions_file) if r["split"] == "val"]
    est = auroc_estimate(np.array([r["label"] for r in rows]), np.array([r["probability"] for r in rows]))
    return job, est.value, est.interval


def run(quick: bool = False) -> list[Result]:
    from medcam_core.config import BUILTIN_PRESETS

    per_class, epochs = (60, 3) if quick else (250, BUILTIN_PRESETS["standard"].epochs)
    live, live_auc, live_ci = _job(0, per_class, epochs)
    fmt = lambda auc, ci: f"{auc:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"  # noqa: E731
    results = []
    for views in VIEWS[:1] if quick else VIEWS:
        cached, auc, ci = _job(views, per_class, epochs)
        within = ci[0] <= live_auc <= ci[1] and live_ci[0] <= auc <= live_ci[1]
        results.append(
            Result(
                f"augment_{views}_views_vs_live_job",
                live.seconds / cached.seconds,
                goal=3.0,
                better="higher",
                details={
                    "images": 2 * per_class,
                    "epochs": epochs,
                    "default_views": BUILTIN_PRESETS["standard"].augment_views,
                    "live_job_s": round(live.seconds, 1),
                    "cached_job_s": round(cached.seconds, 1),
                    "live_epoch_s": round(live.epoch_s, 2),
                    "cached_epoch_s": round(cached.epoch_s, 3),
                    "val_auroc_cached": fmt(auc, ci),
                    "val_auroc_live": fmt(live_auc, live_ci),
                    "aurocs_within_each_others_interval": within,
                    **stage_details(cached=cached.stages, live=live.stages),
                },
            )
        )
    return results
