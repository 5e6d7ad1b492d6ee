"""A job folder's layout has one owner, `JobFolder`, and metrics.json one schema: what is written
matches both, key for key."""

from __future__ import annotations

import json
import os
from fnmatch import fnmatchcase
from pathlib import Path
from typing import get_type_hints

import numpy as np
import pytest

from medcam_core.config import EvaluationSpec, Job
from medcam_core.evaluate.metrics import evaluate
from medcam_core.outputs import metrics_schema as schema
from medcam_core.outputs.job_folder import (
    FOLDER_GLOB,
    JobFolder,
    commit,
    job_id_of,
    open_work,
)
from medcam_core.outputs.model_readme import model_readme
from medcam_core.outputs.results import load_job_results, read_metrics, summarize
from medcam_core.serialize import write_json_atomic

from conftest import dataset_spec, tiny_preset

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_path_of_the_layout(tmp_path: Path) -> None:
    job = JobFolder.committed(tmp_path, "densenet121_p_standard_models")
    assert job.root == tmp_path / "densenet121_p_standard_models" and job.name == job.root.name
    assert os.fspath(job) == str(job.root)
    relative = {
        job.model_file: "models/model.keras",
        job.h5_model_file: "models/model.h5",
        job.weights_file: "models/model.weights.h5",
        job.checkpoint_file: "models/best_checkpoint.weights.h5",
        job.config_file: "configs/job_config.json",
        job.metrics_file: "results/metrics.json",
        job.history_csv_file: "results/history.csv",
        job.history_file: "results/history.json",
        job.predictions_file: "results/predictions.csv",
        job.curves_file: "results/curves.png",
        job.gradcam_dir: "gradcam",
        job.readme_file: "README.md",
        job.backup_dir: ".backup",
    }
    assert {path.relative_to(job.root).as_posix(): want for path, want in relative.items()} == {
        want: want for want in relative.values()
    }
    assert JobFolder.MODEL == "models/model.keras" and JobFolder.METRICS == "results/metrics.json"
    layout = README.read_text(encoding="utf-8").split("## What lands on disk", 1)[1].split("```")[1]
    for path in relative.values():
        if not path.startswith("."):
            assert Path(path).name in layout, path  # the README's picture shows what JobFolder writes
    assert not job.has_model()
    job.make_dirs()
    assert all(d.is_dir() for d in (job.models_dir, job.configs_dir, job.results_dir, job.gradcam_dir))


def test_folder_names_match_the_glob(tmp_path: Path) -> None:
    folder = Job(dataset_spec(tmp_path, "pneumonia"), tiny_preset()).folder_name
    assert fnmatchcase(folder, FOLDER_GLOB) and job_id_of(folder) == "pneumonia_standard"


def test_work_folder_is_kept_for_the_same_spec_and_committed_whole(tmp_path: Path) -> None:
    work, resumed = open_work(tmp_path, "densenet121_p_standard_models", "spec-1")
    assert not resumed and work == JobFolder.partial(tmp_path, "densenet121_p_standard_models")
    assert work.root == tmp_path / ".partial" / "densenet121_p_standard_models" and work.marker_file.is_file()
    work.backup_dir.mkdir()
    again, resumed = open_work(tmp_path, "densenet121_p_standard_models", "spec-1")
    assert resumed and again == work and work.backup_dir.is_dir()
    _, resumed = open_work(tmp_path, "densenet121_p_standard_models", "spec-2")
    assert not resumed and not work.backup_dir.exists()  # another spec: wiped
    work.make_dirs()
    work.model_file.write_bytes(b"placeholder")
    final = commit(tmp_path, work, "densenet121_p_standard_models")
    assert final == JobFolder.committed(tmp_path, "densenet121_p_standard_models").root
    assert JobFolder(final).has_model() and not work.root.exists()


def keys(typed_dict: type) -> set[str]:
    return set(get_type_hints(typed_dict))


def test_evaluate_writes_what_the_schema_names() -> None:
    rng = np.random.default_rng(0)
    y_val, y_test = rng.integers(0, 2, 80), rng.integers(0, 2, 60)
    p_val, p_test = (
        np.clip(y_val * 0.4 + rng.random(80) * 0.6, 0, 1),
        np.clip(y_test * 0.4 + rng.random(60) * 0.6, 0, 1),
    )
    out = evaluate(y_val, p_val, y_test, p_test, None, EvaluationSpec(bootstrap=50), seed=1)
    assert list(out) == ["threshold", "test", "ci_level", "bootstrap", "validation"]
    assert set(out) == keys(schema.Evaluation)
    assert set(out["threshold"]) == keys(schema.ThresholdChoice)
    assert set(out["test"]) == keys(schema.TestMetrics)
    assert list(out["test"])[-5:] == ["n", "patients", "ci", "ci_method", "ci_notes"]  # after the split's figures
    assert set(out["test"]["ci"]) == keys(schema.ConfidenceIntervals)
    assert list(out["test"]["ci"]) == ["auroc", "sensitivity", "specificity", "accuracy", "precision"]
    assert set(out["test"]["ci_method"]) == keys(schema.CiMethods) == set(out["test"]["ci"])
    assert set(out["test"]["ci_notes"]) <= set(out["test"]["ci"])
    assert set(out["test"]["confusion_matrix"]) == keys(schema.ConfusionMatrix)
    assert set(out["bootstrap"]) == keys(schema.BootstrapInfo)
    assert set(out["validation"]) == keys(schema.ValidationSummary)
    metrics = {**out, "training": {"best_epoch": 3}}
    assert set(summarize(metrics)) == keys(schema.JobSummary)  # type: ignore[arg-type]
    job_keys = {"job", "dataset", "preset", "training", "gradcam", "repeats"}
    assert keys(schema.Metrics) == keys(schema.Evaluation) | job_keys
    assert schema.Metrics.__optional_keys__ == {"repeats"}  # only jobs that trained several seeds
    assert schema.GradcamSummary.__optional_keys__ == {"ground_truth", "note", "randomised_weights_rank_correlation"}


def test_results_read_through_the_job_folder(tmp_path: Path) -> None:
    job = JobFolder.committed(tmp_path, "densenet121_p_standard_models")
    metrics = {
        "job": "p_standard",
        "test": {"auroc": 0.9, "n": {"positive": 3, "negative": 4}, "ci": {"auroc": [0.8, 0.95]}},
        "threshold": {"value": 0.4, "method": "youden"},
    }
    write_json_atomic(job.metrics_file, metrics)
    write_json_atomic(job.history_file, {"loss": [0.5]})
    results = load_job_results(job)
    assert results.folder == job.root and results.problems == ["missing job_config.json"]
    assert results.test["auroc"] == 0.9 and read_metrics(job) == metrics
    assert load_job_results(job.root).metrics == metrics  # a plain path still works
    text = model_readme("p_standard", "P", {"name": "standard", "image_size": 32}, metrics, job.name)  # type: ignore[arg-type]
    assert f"{job.name}/models/model.keras" in text and "`results/metrics.json`" in text
    job.metrics_file.write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="not a JSON object"):
        read_metrics(job)
