"""Frozen-feature caching: one job trained on cached features vs plain `fit` on images, same data.

Both runs go through the real runner (load, build, fit, evaluate, explain, save) on one synthetic
dataset at 224 px with the last 20 layers trainable, for the standard preset's 10 epochs (no early
stop, so both train the same epochs); epoch times come from the events.
"""

from __future__ import annotations

from benchmarks.common import Result, one_job, stage_details


def run(quick: bool = False) -> list[Result]:
    from medcam_core.config import BUILTIN_PRESETS

    per_class, epochs = (60, 3) if quick else (250, BUILTIN_PRESETS["standard"].epochs)
    cached = one_job(per_class, epochs=epochs, cache_features=True)
    plain = one_job(per_class, epochs=epochs, cache_features=False)
    cached_job, cached_epoch, plain_job, plain_epoch = cached.seconds, cached.epoch_s, plain.seconds, plain.epoch_s
    stages = stage_details(cached=cached.stages, plain=plain.stages)
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
