"""The on-disk layout of one finished job, written in a hidden work folder and renamed when whole.

```
densenet121_<dataset>_<preset>_models/
  models/   model.keras · model.h5 · model.weights.h5 · best_checkpoint.weights.h5
  configs/  job_config.json
  results/  metrics.json · history.csv · history.json · predictions.csv · curves.png
  gradcam/
  README.md
```
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
from pathlib import Path
from typing import Any

from medcam_core.serialize import write_atomic

PARTIAL_DIR = ".partial"
SCRATCH_DIR = ".scratch"  # decoded images and frozen features, in files unlinked as soon as opened
BACKUP_DIR = ".backup"  # Keras BackupAndRestore state inside a job's work folder; removed before commit


JOB_MARKER = "job.json"


def work_dir(output: Path, folder: str, job_spec: str) -> tuple[Path, bool]:
    """The hidden folder of a job in progress, and whether it is resumed.

    An interrupted job's folder is kept when it was made for the same job spec (its training backup
    lets fit continue from the last completed epoch); anything else there is wiped. Nothing outside
    this folder is touched until commit.
    """
    path = output / PARTIAL_DIR / folder
    marker = path / JOB_MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8") == job_spec:
        return path, True
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    write_atomic(marker, job_spec)
    return path, False


def commit(output: Path, work: Path, folder: str) -> Path:
    """Rename the whole work folder into place; an older folder of that name is kept aside."""
    final = output / folder
    if final.exists():
        final.rename(output / f"{folder}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(work, final)
    return final


def write_predictions(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["split", "path", "patient", "label", "probability"])
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "probability": f"{row['probability']:.8f}"})
    write_atomic(path, buf.getvalue())


def write_curves(path: Path, history: dict[str, list[float | None]], title: str) -> None:
    """Train-vs-validation loss, accuracy and AUC per epoch (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [m for m in ("loss", "accuracy", "auc") if m in history]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], panels, strict=True):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            values = history.get(key)
            if values:
                xs = [i + 1 for i, v in enumerate(values) if v is not None]
                ax.plot(
                    xs,
                    [v for v in values if v is not None],
                    style,
                    marker="o",
                    ms=3,
                    label="validation" if key.startswith("val_") else "train",
                )
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def model_readme(job_id: str, dataset_title: str, preset: dict[str, Any], metrics: dict[str, Any], folder: str) -> str:
    test = metrics["test"]
    thr = metrics["threshold"]["value"]
    ci = test.get("ci", {}).get("auroc")
    auroc = "n/a" if test.get("auroc") is None else f"{test['auroc']:.3f}"
    ci_txt = f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else ""
    size = preset["image_size"]
    return f"""# DenseNet121 — {dataset_title} — `{preset["name"]}` preset

Binary classifier trained by medcam-tui (job `{job_id}`). For research use only: it has not been
validated for clinical use and must not be used to make decisions about patients.

Held-out test split: AUROC {auroc}{ci_txt}, n = {test["n"]["positive"]} positive /
{test["n"]["negative"]} negative. Full figures: `results/metrics.json`.

## Load it

```python
import keras
model = keras.saving.load_model("{folder}/models/model.keras", safe_mode=True)
```

`models/model.h5` (legacy HDF5) and `models/model.weights.h5` (weights only, for the same
architecture) hold the same weights; `models/best_checkpoint.weights.h5` is the best validation
epoch as saved during training.

## Preprocessing (must match training)

1. Decode to 8-bit grayscale (16-bit images stretched min..max), resize to {size}×{size}.
2. Repeat the gray channel 3×.
3. `keras.applications.densenet.preprocess_input` (ImageNet mean/std on 0–255 input).

```python
import numpy as np
from medcam_core.data.decode import decode   # the exact decoder used in training
gray = decode(path, {size}).astype("float32")
x = keras.applications.densenet.preprocess_input(np.repeat(gray[None, ..., None], 3, axis=-1))
probability = float(model.predict(x, verbose=0)[0, 0])
positive = probability >= {thr:.6f}
```

## Decision threshold

{thr:.6f}, chosen on the validation split by `{metrics["threshold"]["method"]}` before the test split was
scored.

## Grad-CAM

Use the last 4-D feature map, layer `relu` (1024 channels), and differentiate the logit (the
`prediction` layer's pre-sigmoid value), not the probability. The plan's `conv5_block16_2_conv`
(32 channels) is also available by name.
"""
