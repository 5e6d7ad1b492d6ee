"""Input pipeline: the frozen-feature pass fed from PNG files on disk vs the same tensors in memory.

"Disk" is the real path (discover, decode with Pillow in threads, tf.data); "memory" starts from the
already-decoded arrays. Both then run the same frozen DenseNet121 at 224 px.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import Result


def run(quick: bool = False) -> list[Result]:
    from medcam_core.config import BUILTIN_PRESETS, DatasetSpec
    from medcam_core.data.load import load_dataset
    from medcam_core.data.synthetic import PATIENT_RE, generate
    from medcam_core.train.fit import compute_features
    from medcam_core.train.model import build_model, split_frozen

    per_class = 60 if quick else 200
    root = generate(Path(tempfile.mkdtemp()), tasks=["pneumonia"], per_class=per_class, size=256)
    spec = DatasetSpec(name="pneumonia", path=root / "pneumonia", positive=("pneumonia",), patient_id=PATIENT_RE)
    preset = BUILTIN_PRESETS["standard"].__class__(name="bench", image_size=224, weights="none")
    split, _ = split_frozen(build_model(preset, None).model)
    noop = lambda *a: None  # noqa: E731
    data = load_dataset(spec, 224, 0)
    compute_features(split, data, 32, ("warm",), noop, lambda: False)  # trace once

    start = time.perf_counter()
    disk_data = load_dataset(spec, 224, 0)
    compute_features(split, disk_data, 32, ("disk",), noop, lambda: False)
    disk = time.perf_counter() - start
    start = time.perf_counter()
    compute_features(split, data, 32, ("memory",), noop, lambda: False)
    memory = time.perf_counter() - start
    images = 2 * per_class
    return [
        Result(
            "input_disk_vs_memory",
            memory / disk,
            goal=0.9,
            better="higher",
            details={
                "disk_img_per_s": round(images / disk, 1),
                "memory_img_per_s": round(images / memory, 1),
                "decode_s": round(disk_data.seconds, 2),
                "images": images,
                "png_side": 256,
            },
        ),
    ]
