"""`repeats = N`: N heads from one feature pass, each scored, their spread recorded, the best on
validation saved (a job without repeats: tests/test_runner.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medcam_core.jobqueue.runner import Runner
from medcam_core.outputs.job_folder import JobFolder

from conftest import dataset_spec, tiny_preset, tiny_queue

pytestmark = pytest.mark.cost(19)


def test_repeats_train_distinct_heads_from_one_feature_pass(synthetic_root: Path, tmp_path: Path) -> None:
    preset = tiny_preset(repeats=2, epochs=1, run_eagerly=True)
    config = tiny_queue((dataset_spec(synthetic_root, "pneumonia"),), tmp_path, {"standard": preset})
    events: list = []
    counts = Runner(config, [events.append]).run()
    assert counts["done"] == 1, [getattr(e, "error", "") for e in events if e.kind == "job_failed"]

    feature_passes = [e for e in events if e.kind == "stage_started" and e.stage == "features"]
    assert len(feature_passes) == 1  # the frozen part ran once for both seeds
    first_losses = [e.logs["loss"] for e in events if e.kind == "epoch_ended"]
    assert len(first_losses) == 2 and len(set(first_losses)) == 2  # two heads, two trainings
    notices = [e.message for e in events if e.kind == "notice"]
    assert any("repeat 2 of 2 (seed 43)" in n for n in notices)

    folder = JobFolder.committed(tmp_path, "densenet121_pneumonia_standard_models")
    metrics = json.loads(folder.metrics_file.read_text(encoding="utf-8"))
    repeats = metrics["repeats"]
    assert repeats["seeds"] == [42, 43] and [r["seed"] for r in repeats["per_seed"]] == [42, 43]
    aurocs = [r["auroc"] for r in repeats["per_seed"]]
    assert all(a is not None for a in aurocs)
    spread = repeats["spread"]["auroc"]
    assert abs(spread["mean"] - sum(aurocs) / 2) < 1e-9
    assert abs(spread["sd"] - abs(aurocs[0] - aurocs[1]) / 2**0.5) < 1e-9  # sample SD of two values
    saved = next(r for r in repeats["per_seed"] if r["seed"] == repeats["saved_seed"])
    best = max(r["best_val_auc"] for r in repeats["per_seed"])  # the tiny preset monitors val_auc
    assert saved["best_val_auc"] == best and "chosen on validation" in repeats["saved_because"]
    assert abs(saved["auroc"] - metrics["test"]["auroc"]) < 1e-9  # the saved model is the one reported
    assert not folder.repeats_dir.exists()
