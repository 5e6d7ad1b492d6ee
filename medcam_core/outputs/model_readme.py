"""The README.md each finished job folder carries: what the model is, how to load it and prepare
its inputs, its threshold and its Grad-CAM layer — enough to use it without this tool."""

from __future__ import annotations

from typing import Any

from medcam_core.formatting import doc_estimate
from medcam_core.outputs.job_folder import JobFolder
from medcam_core.outputs.metrics_schema import Metrics


def model_readme(job_id: str, dataset_title: str, preset: dict[str, Any], metrics: Metrics, folder: str) -> str:
    test = metrics["test"]
    thr = metrics["threshold"]["value"]
    ci = test.get("ci", {}).get("auroc")
    auroc = doc_estimate(test.get("auroc"), ci)
    size = preset["image_size"]
    return f"""# DenseNet121 — {dataset_title} — `{preset["name"]}` preset

Binary classifier trained by medcam-tui (job `{job_id}`). For research use only: it has not been
validated for clinical use and must not be used to make decisions about patients.

Held-out test split: AUROC {auroc}, n = {test["n"]["positive"]} positive /
{test["n"]["negative"]} negative. Full figures: `{JobFolder.METRICS}`; the test ROC with its operating
point, precision–recall and reliability diagram: `{JobFolder.ROC}`, `{JobFolder.PR}`, `{JobFolder.CALIBRATION}`.

## Load it

```python
import keras
model = keras.saving.load_model("{folder}/{JobFolder.MODEL}", safe_mode=True)
```

`{JobFolder.MODEL_H5}` (legacy HDF5) and `{JobFolder.WEIGHTS}` (weights only, for the same
architecture) hold the same weights; `{JobFolder.CHECKPOINT}` is the best validation
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
