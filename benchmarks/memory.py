"""Peak memory of one real job with 1k vs 8k images: decoded images and frozen features on disk.

Each size runs in a fresh interpreter (load → build → features → fit → evaluate → explain → save)
and reports its peak resident set (`ru_maxrss`). The synthetic images are written beforehand, by
the parent, so generating them does not count. The plan held every image in arrays; at 224 px its
8k images and their frozen features alone would be ~2 GB more than its 1k.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import Result

PROBE = """
import json, resource, sys
from dataclasses import replace
from pathlib import Path
from medcam_core.config import BUILTIN_PRESETS, DatasetSpec, QueueConfig
from medcam_core.jobqueue.runner import Runner
from medcam_core.data.synthetic import PATIENT_RE, TASKS
data, out, per_class, size = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
task = TASKS["pneumonia"]
spec = DatasetSpec("pneumonia", data / "pneumonia", (task.positive,), patient_id=PATIENT_RE, max_per_class=per_class)
preset = replace(BUILTIN_PRESETS["standard"], epochs=1, image_size=size, weights="none")
config = QueueConfig(datasets=(spec,), presets={"standard": preset}, order=("standard",), output=out)
counts = Runner(config, []).run()
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "counts": counts}))
"""


def _probe(data: Path, out: Path, per_class: int, size: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(data), str(out), str(per_class), str(size)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Result]:
    from medcam_core.data.synthetic import generate

    small, large, size = (250, 2000, 64) if quick else (1000, 8000, 224)
    peaks = {}
    for images in (small, large):
        root = Path(tempfile.mkdtemp(prefix="medcam-bench-memory-"))
        generate(root / "data", tasks=["pneumonia"], per_class=images // 2, size=size)
        result = _probe(root / "data", root / "new", images // 2, size)
        if result["counts"].get("done") != 1:
            raise RuntimeError(f"the {images}-image job did not finish: {result['counts']}")
        peaks[images] = result["peak_rss_mb"]
    return [
        Result(
            "memory_8k_vs_1k",
            peaks[large] / peaks[small],
            goal=1.3,
            better="lower",
            details={
                "image_size": size,
                f"peak_rss_{small}_mb": round(peaks[small]),
                f"peak_rss_{large}_mb": round(peaks[large]),
            },
        )
    ]
