"""The status report: correct in every queue state, its numbers exactly those on disk, names escaped."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from medcam_core.jobqueue.state import PROGRESS_FILE
from medcam_core.outputs.report import build_report, md, results_csv, write_report
from medcam_core.serialize import write_json_atomic

T = 1_790_000_000.0


def job(job_id: str, status: str, **extra: object) -> dict:
    dataset, _, preset = job_id.rpartition("_")
    return {
        "id": job_id,
        "dataset": dataset,
        "preset": preset,
        "status": status,
        "folder": f"densenet121_{job_id}_models",
        "started": T,
        "finished": T + 60,
        "seconds": 60.0,
        **extra,
    }


def metrics(auroc: float) -> dict:
    return {
        "threshold": {"value": 0.4321, "method": "youden", "chosen_on": "validation"},
        "test": {
            "accuracy": 0.9123,
            "precision": 0.9,
            "recall": 0.8765,
            "sensitivity": 0.8765,
            "specificity": 0.9456,
            "f1": 0.888,
            "auroc": auroc,
            "auprc": 0.93,
            "brier": 0.0712,
            "confusion_matrix": {"tn": 40, "fp": 3, "fn": 5, "tp": 36},
            "n": {"positive": 41, "negative": 43},
            "patients": 70,
            "ci": {
                "auroc": [auroc - 0.05, min(1.0, auroc + 0.03)],
                "sensitivity": [0.77, 0.95],
                "specificity": [0.86, 1.0],
                "accuracy": [0.85, 0.96],
            },
        },
        "bootstrap": {"unit": "patient", "resamples": 1000},
        "training": {
            "epochs_run": 9,
            "epochs_planned": 10,
            "best_epoch": 6,
            "monitor": "val_loss",
            "training_path": "cached-features",
        },
    }


def layout(root: Path, jobs: list[dict], aurocs: dict[str, float]) -> Path:
    write_json_atomic(root / PROGRESS_FILE, {"device": "CPU (2 cores)", "jobs": jobs})
    for job_id, auroc in aurocs.items():
        folder = root / f"densenet121_{job_id}_models"
        write_json_atomic(folder / "results" / "metrics.json", metrics(auroc))
        write_json_atomic(folder / "results" / "history.json", {"loss": [0.6, 0.4]})
        write_json_atomic(folder / "configs" / "job_config.json", {})
        (folder / "results" / "curves.png").write_bytes(b"png")
        (folder / "models").mkdir()
        (folder / "models" / "model.keras").write_bytes(b"placeholder")  # a job is done while its model is there
    return root


def test_mix_groups_models_in_auroc_bands_and_numbers_match_disk(tmp_path: Path) -> None:
    aurocs = {"pneumonia_standard": 0.9612, "cardiomegaly_standard": 0.8434, "limb_standard": 0.6543}
    jobs = [job(j, "done") for j in aurocs] + [
        job(
            "knee_standard",
            "failed",
            stage="load",
            error="dataset folder not found: /data/knee",
            hint="check the dataset folder",
        ),
        job("knee_intensive", "queued"),
    ]
    report = build_report(layout(tmp_path, jobs, aurocs))
    band_order = [report.index(t) for t in ("### AUROC ≥ 0.90", "### AUROC 0.80–0.90", "### AUROC < 0.70")]
    assert band_order == sorted(band_order)
    assert report.index("#### pneumonia — standard") < report.index("### AUROC 0.80–0.90")
    assert "0.961 (95 % CI 0.911–0.991)" in report and "0.843 (95 % CI" in report
    assert "Sensitivity**: 0.876 (95 % CI 0.770–0.950)" in report
    assert "Threshold**: 0.432" in report and "41 positive / 43 negative images, 70 patients" in report
    assert "TN 40 · FP 3 · FN 5 · TP 36" in report
    assert "dataset folder not found: /data/knee" in report and "**Stage**: load" in report
    assert "STOPPED WITH JOBS STILL QUEUED" in report
    assert "| 5 | 3 | 1 | 0 | 1 |" in report
    assert "Research use only" in report
    assert "ready for" not in report.lower() and "production" not in report.lower()
    assert "(densenet121_pneumonia_standard_models/results/curves.png)" in report

    rows = {r["job"]: r for r in csv.DictReader(io.StringIO(results_csv(tmp_path)))}
    for job_id in aurocs:
        test = json.loads((tmp_path / f"densenet121_{job_id}_models/results/metrics.json").read_text())["test"]
        assert float(rows[job_id]["auroc"]) == test["auroc"]
        assert float(rows[job_id]["auroc_ci_low"]) == test["ci"]["auroc"][0]
        assert float(rows[job_id]["specificity"]) == test["specificity"]
    assert rows["knee_standard"]["status"] == "failed" and rows["knee_standard"]["auroc"] == ""


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ({}, "NO JOBS YET"),
        ({"a_standard": "queued", "b_standard": "queued"}, "No model has finished yet."),
        ({"a_standard": "failed", "b_standard": "failed"}, "ALL JOBS FAILED"),
        ({"a_standard": "done", "b_standard": "running"}, "TRAINING IN PROGRESS"),
        ({"a_standard": "done", "b_standard": "failed"}, "TRAINING COMPLETED WITH FAILURES"),
    ],
)
def test_every_queue_state(tmp_path: Path, statuses: dict[str, str], expected: str) -> None:
    jobs = [
        job(j, s, error="boom" if s == "failed" else "", stage="fit" if s == "failed" else "")
        for j, s in statuses.items()
    ]
    aurocs = {j: 0.9 for j, s in statuses.items() if s == "done"}
    report = build_report(layout(tmp_path, jobs, aurocs))
    assert expected in report
    if not aurocs:
        assert "No model has finished yet." in report


def test_names_and_errors_are_escaped(tmp_path: Path) -> None:
    jobs = [job("x_standard", "failed", error="bad <script>alert(1)</script> | [link](http://x) *bold*")]
    report = build_report(layout(tmp_path, jobs, {}))
    assert "<script>" not in report and "\\<script\\>" in report
    assert "\\[link\\](http://x)" in report and "\\*bold\\*" in report
    assert md("a_b|c") == "a\\_b\\|c"


def test_write_report_links_relative_to_the_report(tmp_path: Path) -> None:
    root = layout(tmp_path / "new", [job("p_standard", "done")], {"p_standard": 0.95})
    report, table = write_report(root, tmp_path / "docs" / "report.md")
    text = report.read_text()
    assert "(../new/densenet121_p_standard_models/results/curves.png)" in text
    assert table == root / "results.csv" and table.is_file()
