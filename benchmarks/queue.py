"""The plan's queue shape (5 datasets × 2 presets, 224 px, synthetic): total wall time vs its floor.

The floor is one forward pass of DenseNet121 over every image, the least any training of these
models must spend. The stage breakdown (from the events) says where the rest goes.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import Result, median


def run(quick: bool = False) -> list[Result]:
    import tensorflow as tf

    from medcam_core.data.demo import demo_config
    from medcam_core.jobqueue.runner import Runner
    from medcam_core.train.input_pipeline import to_model_input
    from medcam_core.train.model import build_model

    per_class = 60 if quick else 500
    out = Path(tempfile.mkdtemp(prefix="medcam-bench-"))
    config = demo_config(out, per_class=per_class, image_size=224)
    config = replace(config, presets={k: replace(p, image_size=224) for k, p in config.presets.items()})
    stages: dict[str, float] = defaultdict(float)
    marks: dict[str, tuple[str, float]] = {}

    def clock(event) -> None:
        if event.kind == "stage_started":
            job, _ = marks.get(event.job_id, (None, 0.0))
            if job is not None:
                stages[marks[event.job_id][0]] += event.time - marks[event.job_id][1]
            marks[event.job_id] = (event.stage, event.time)
        elif event.kind in ("job_finished", "job_failed") and event.job_id in marks:
            stage, since = marks.pop(event.job_id)
            stages[stage] += event.time - since

    start = time.perf_counter()
    counts = Runner(config, [clock]).run()
    total = time.perf_counter() - start

    preset = config.presets["standard"]
    model = build_model(preset, None).model
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)  # traced, as the queue's
    images = np.zeros((256, 224, 224), np.uint8)
    # a plain in-memory tf.data pipeline, independent of the engine's own reader
    batches = tf.data.Dataset.from_tensor_slices(images).batch(32).map(to_model_input).prefetch(tf.data.AUTOTUNE)
    for batch in batches.take(1):
        forward(batch)  # trace and warm up outside the timing
    passes = []
    for _ in range(3):
        start = time.perf_counter()
        for batch in batches:
            forward(batch).numpy()
        passes.append((time.perf_counter() - start) / len(images))
    per_image = median(passes)
    n_images = 5 * 2 * per_class
    floor = per_image * n_images
    return [
        Result(
            "queue_vs_forward_floor",
            total / floor,
            goal=2.0,
            better="lower",
            details={
                "total_s": round(total, 1),
                "floor_s": round(floor, 1),
                "images": n_images,
                "jobs_done": counts.get("done", 0),
                **{f"stage_{k}_s": round(v, 1) for k, v in sorted(stages.items())},
            },
        ),
    ]
