"""`strategy = "mirrored"`: one job over two devices, here two logical CPUs of a fresh process."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from medcam_core.data.load import load_dataset
from medcam_core.train.input_pipeline import to_model_input

from conftest import TINY, dataset_spec

pytestmark = pytest.mark.cost(63)

JOBS = """
import json, sys
from pathlib import Path
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from medcam_core.jobqueue.runner import Runner
from conftest import dataset_spec, tiny_preset, tiny_queue

presets = {  # the plain job traced, as users run it: with a new strategy per job it failed, second in
    # the process ("Shape mismatch in the collective instance 100"); the cached job eager, which is cheaper
    "standard": tiny_preset(strategy="mirrored", run_eagerly=True, epochs=1),
    "plain": tiny_preset("plain", strategy="mirrored", cache_features=False, epochs=1),
}
config = tiny_queue((dataset_spec(Path(sys.argv[1]), "pneumonia"),), Path(sys.argv[2]), presets)
events = []
counts = Runner(config, [events.append]).run()
print(json.dumps({"counts": counts, "notices": [e.message for e in events if e.kind == "notice"],
                  "failures": [e.error for e in events if e.kind == "job_failed"]}))
"""


def test_mirrored_jobs_train_over_two_devices_and_score_every_image_once(synthetic_root: Path, tmp_path: Path) -> None:
    data = load_dataset(dataset_spec(synthetic_root, "pneumonia"), TINY, 42)
    assert len(data.splits["val"]) % 2 == 1  # an odd split: the case a naive batching cannot share among two
    proc = subprocess.run(
        [sys.executable, "-c", JOBS, str(synthetic_root), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=Path(__file__).parent,  # conftest importable; medcam_* from wherever pytest imports them
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["failures"] == [] and report["counts"]["done"] == 2
    assert sum("mirrored over 2 devices" in n for n in report["notices"]) == 2

    for preset in ("standard", "plain"):
        folder = tmp_path / f"densenet121_pneumonia_{preset}_models"
        metrics = json.loads((folder / "results" / "metrics.json").read_text())
        assert metrics["training"]["replicas"] == 2
        assert metrics["training"]["training_path"] == ("cached-features" if preset == "standard" else "plain")
        with open(folder / "results" / "predictions.csv", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        test = [r for r in rows if r["split"] == "test"]
        assert [r["path"] for r in rows if r["split"] == "val"] == data.splits["val"].paths
        assert [r["path"] for r in test] == data.splits["test"].paths
        model = keras.models.load_model(folder / "models" / "model.keras", compile=False)
        again = model(to_model_input(data.splits["test"].images[np.arange(len(test))]), training=False)
        np.testing.assert_allclose(np.reshape(again, -1), [float(r["probability"]) for r in test], atol=1e-4)
