"""The status report: correct in every queue state, its numbers exactly those on disk, names escaped."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from medcam_core.jobqueue.state import PROGRESS_FILE
from medcam_core.outputs.job_folder import JobFolder, write_predictions
from medcam_core.outputs.pictures import write_pictures
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


def prediction_rows(labels: np.ndarray, probabilities: np.ndarray, paths: list[str] | None = None) -> list[dict]:
    """predictions.csv rows of a test split (two images per patient) after a few validation rows."""
    paths = paths or [f"img{i:03d}.png" for i in range(len(labels))]
    rows = [
        {"split": "val", "path": f"v{i}.png", "patient": f"v{i}", "label": i % 2, "probability": 0.5} for i in range(4)
    ]
    return rows + [
        {"split": "test", "path": path, "patient": f"p{i // 2}", "label": int(y), "probability": float(p)}
        for i, (path, y, p) in enumerate(zip(paths, labels, probabilities, strict=True))
    ]


def scored_job(
    root: Path, dataset: str, preset: str, rows: list[dict] | None, threshold: float = 0.5, unit: str = "patient"
) -> dict:
    """A finished job folder with predictions.csv (unless `rows` is None); its progress entry."""
    job_id = f"{dataset}_{preset}"
    folder = JobFolder(root / f"densenet121_{job_id}_models")
    m = metrics(0.9)
    m.update(job=job_id, preset=preset, ci_level=0.95, bootstrap={"unit": unit, "resamples": 50, "seed": 1})
    m["threshold"]["value"] = threshold
    write_json_atomic(folder.metrics_file, m)
    write_json_atomic(folder.history_file, {"loss": [0.6, 0.4]})
    write_json_atomic(folder.config_file, {"dataset": {"name": dataset}, "preset": {"name": preset}})
    if rows is not None:
        write_predictions(folder.predictions_file, rows)
    folder.models_dir.mkdir(parents=True, exist_ok=True)
    folder.model_file.write_bytes(b"placeholder")
    return {**job(job_id, "done"), "dataset": dataset, "preset": preset}


def two_models(seed: int, gap: float, n_pos: int = 29, n_neg: int = 31) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and the scores of two models; model b's scores are model a's plus noise of size `gap`."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos, dtype=int), np.zeros(n_neg, dtype=int)]
    p_a = np.clip(0.5 + (y - 0.5) * 0.5 + rng.normal(0, 0.15, len(y)), 0, 1)
    p_b = np.clip(p_a + rng.normal(0, gap, len(y)), 0, 1) if gap else p_a.copy()
    return y, p_a, p_b


def queue_of_comparisons(root: Path) -> Path:
    """pneumonia: two nearly identical presets; cardiomegaly: a good preset and a coin-flip one."""
    y, p_a, p_b = two_models(0, 0.02)
    entries = [scored_job(root, "pneumonia", "standard", prediction_rows(y, p_a))]
    entries.append(scored_job(root, "pneumonia", "intensive", prediction_rows(y, p_b)))
    y, good, _ = two_models(1, 0.0, 60, 60)
    coin = np.random.default_rng(2).uniform(0, 1, len(y))
    entries.append(scored_job(root, "cardiomegaly", "standard", prediction_rows(y, coin)))
    entries.append(scored_job(root, "cardiomegaly", "intensive", prediction_rows(y, good)))
    write_json_atomic(root / PROGRESS_FILE, {"device": "CPU", "jobs": entries})
    return root


def test_which_preset_is_better_in_plain_words(tmp_path: Path) -> None:
    root = queue_of_comparisons(tmp_path / "new")
    report = build_report(root)
    section = report.split("## Which preset is better", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("- **")]
    pneumonia, cardiomegaly = lines
    assert pneumonia.startswith("- **pneumonia**, `standard` vs `intensive`: no detectable difference in AUROC with ")
    assert "29 + 31 test images from 30 patients" in pneumonia and "95 % CI " in pneumonia
    assert "DeLong p = " in pneumonia and "Holm p = " in pneumonia
    assert "`intensive` has the higher AUROC on these 60 + 60 test images" in cardiomegaly
    assert "ΔAUROC `intensive` − `standard` 0." in cardiomegaly and "DeLong p < 0.001" in cardiomegaly
    assert "sensitivity on the 29 test positives, each at its own threshold" in section
    assert "specificity on the 60 test negatives" in section and "accuracy on the 120 test images" in section
    assert section.count("exact McNemar p") == 6 and "Wilson 95 % CI" in section
    assert "Holm-adjusted across every AUROC comparison of this queue" in section and "— 2 tests" in section
    assert "every McNemar test of this queue" in section and "— 6 tests" in section
    assert "not that they are equivalent" in section
    lowered = report.lower()
    for claim in ("ready for", "clinically", "suitable for", "safe to", "production", "deploy"):
        assert claim not in lowered, claim


def test_report_embeds_roc_and_calibration_and_writes_the_comparisons(tmp_path: Path) -> None:
    root = queue_of_comparisons(tmp_path / "new")
    for folder in root.glob("densenet121_*_models"):
        job_folder = JobFolder(folder)
        rows = list(csv.DictReader(job_folder.predictions_file.open()))
        write_pictures(job_folder, rows, {"threshold": {"value": 0.5}, "bootstrap": {"resamples": 20}}, folder.name)
    report = build_report(root)
    assert "(densenet121_pneumonia_standard_models/results/roc.png)" in report
    assert "(densenet121_cardiomegaly_intensive_models/results/calibration.png)" in report
    assert "![test ROC of pneumonia_standard](" in report and "![calibration of pneumonia_standard](" in report
    written, _ = write_report(root, tmp_path / "docs" / "report.md")
    text = written.read_text()
    assert "(../new/densenet121_pneumonia_intensive_models/results/roc.png)" in text
    assert "(../new/densenet121_pneumonia_intensive_models/results/calibration.png)" in text
    assert (root / "comparisons.csv").is_file() and (root / "comparisons.json").is_file()
    table = list(csv.DictReader((root / "comparisons.csv").open()))
    assert [(r["dataset"], r["preset_a"], r["preset_b"]) for r in table] == [
        ("pneumonia", "standard", "intensive"),
        ("cardiomegaly", "standard", "intensive"),
    ]
    assert "comparisons.csv" in text and "## Which preset is better" in text


def test_no_comparison_without_two_presets_of_a_dataset(tmp_path: Path) -> None:
    aurocs = {"pneumonia_standard": 0.96, "cardiomegaly_standard": 0.84}
    report = build_report(layout(tmp_path, [job(j, "done") for j in aurocs], aurocs))
    assert "## Which preset is better" in report
    assert "Nothing to compare yet: a comparison needs two finished presets of one dataset." in report
