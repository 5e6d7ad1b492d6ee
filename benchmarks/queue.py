"""The plan's queue shape (5 datasets × 2 presets, 224 px, synthetic): total wall time vs its floor.

The floor is one forward pass of DenseNet121 over every image, the least any training of these
models must spend. It is timed before the queue, after it, and between its jobs (that time is not
counted in the queue's). This machine's speed flips between two states (about 12.5 and 25 images/s
on the floor) from one minute to the next, so a single floor for the whole run compares a queue that
ran partly in each state with one of them. The ratio therefore sets each job against the floor timed
on either side of it: job j's floor is its share of the images (each dataset's images split between
its presets) at the mean per-image time of the passes just before and just after it. The older
figure (the whole queue against the median of every pass) is printed beside it for continuity. The
stage breakdown (from the events) says where the rest goes.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import Result, StageClock, median


def forward_floor(image_size: int) -> Callable[[], list[float]]:
    """Passes of a traced forward pass of the full model over blank images through a plain in-memory
    tf.data pipeline, independent of the engine's own reader; each call returns seconds per image."""
    import tensorflow as tf

    from medcam_core.config import BUILTIN_PRESETS
    from medcam_core.train.input_pipeline import to_model_input
    from medcam_core.train.model import build_model

    preset = replace(BUILTIN_PRESETS["standard"], image_size=image_size, weights="none")
    model = build_model(preset, None).model
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)  # traced, as the queue's
    images = np.zeros((256, image_size, image_size), np.uint8)
    batches = tf.data.Dataset.from_tensor_slices(images).batch(32).map(to_model_input).prefetch(tf.data.AUTOTUNE)
    for batch in batches.take(1):
        forward(batch)  # trace and warm up outside the timing

    def passes(count: int = 3) -> list[float]:
        out = []
        for _ in range(count):
            start = time.perf_counter()
            for batch in batches:
                forward(batch).numpy()
            out.append((time.perf_counter() - start) / len(images))
        return out

    return passes


def run(quick: bool = False) -> list[Result]:
    from medcam_core.data.demo import demo_config
    from medcam_core.jobqueue.runner import Runner

    per_class = 60 if quick else 500
    out = Path(tempfile.mkdtemp(prefix="medcam-bench-"))
    config = demo_config(out, per_class=per_class, image_size=224)
    config = replace(config, presets={k: replace(p, image_size=224) for k, p in config.presets.items()})
    floor_passes = forward_floor(224)
    before = floor_passes()
    marks = [median(before)]  # per-image floor after each job, the first one before the queue
    jobs: list[float] = []  # each job's wall time, floor passes left out
    since = [0.0]

    def between_jobs(event) -> None:
        if event.kind in ("job_finished", "job_failed"):
            start = time.perf_counter()
            jobs.append(start - since[0])
            marks.extend(floor_passes(1))
            since[0] = time.perf_counter()

    clock = StageClock()
    since[0] = time.perf_counter()
    counts = Runner(config, [clock, between_jobs]).run()
    jobs[-1] += time.perf_counter() - since[0]  # the queue's wind-down after its last job
    after = floor_passes()
    n_images = 5 * 2 * per_class  # each job's share is per_class: a dataset's images split between its presets
    local = sum(per_class * (a + b) / 2 for a, b in zip(marks, marks[1:], strict=False))
    total = sum(jobs)
    whole = median(before + marks[1:] + after) * n_images
    return [
        Result(
            "queue_vs_forward_floor",
            total / local,
            goal=2.0,
            better="lower",
            details={
                "total_s": round(total, 1),
                "floor_s": round(local, 1),
                "ratio_to_median_floor": round(total / whole, 3),
                "median_floor_s": round(whole, 1),
                "floor_img_per_s_before": round(1 / median(before), 1),
                "floor_img_per_s_between_jobs": " ".join(f"{1 / p:.1f}" for p in marks[1:]),
                "floor_img_per_s_after": round(1 / median(after), 1),
                "job_s": " ".join(f"{t:.0f}" for t in jobs),
                "images": n_images,
                "jobs_done": counts.get("done", 0),
                **clock.details(),
            },
        ),
    ]
