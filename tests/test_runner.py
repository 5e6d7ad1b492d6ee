"""The queue end to end on tiny real data: artifacts, failure isolation, control, resume, CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from medcam_core.events import BatchProgress, JobFailed, JobFinished, JobStarted
from medcam_core.jobqueue.event_log import EventLog, read_events
from medcam_core.jobqueue.runner import Runner
from medcam_core.jobqueue.state import PROGRESS_FILE

from conftest import dataset_spec, tiny_preset, tiny_queue

pytestmark = pytest.mark.cost(105)

FAST = tiny_preset(run_eagerly=True)


@pytest.fixture(scope="module")
def finished(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """One good dataset, one missing folder, one with a single class: run once, inspect many times.
    The good one is validated on a dataset kept for validation only, and on the missing one."""
    out = tmp_path_factory.mktemp("queue")
    single = out.parent / "single" / "cardiomegaly"
    single.mkdir(parents=True)
    for image in list((synthetic_root / "cardiomegaly" / "cardiomegaly").glob("*.png"))[:12]:
        (single / image.name).write_bytes(image.read_bytes())
    config = tiny_queue(
        (
            dataset_spec(synthetic_root, "pneumonia", external=("cardiomegaly", "missing")),
            dataset_spec(out.parent, "missing", positive=("x",)),
            dataset_spec(out.parent, "single", positive=("cardiomegaly",)),
            dataset_spec(synthetic_root, "cardiomegaly", train=False),
        ),
        out,
        {"standard": FAST},
    )
    log = EventLog(out / "events.jsonl")
    counts = Runner(config, [log]).run()
    log.close()
    return config, counts, out


def test_good_job_finishes_and_broken_ones_fail_alone(finished) -> None:
    _, counts, out = finished
    assert counts["done"] == 1 and counts["failed"] == 2
    progress = json.loads((out / PROGRESS_FILE).read_text())
    by_id = {j["id"]: j for j in progress["jobs"]}
    assert by_id["pneumonia_standard"]["status"] == "done"
    missing, single = by_id["missing_standard"], by_id["single_standard"]
    assert missing["status"] == "failed" and missing["stage"] == "load" and "not found" in missing["error"]
    assert single["status"] == "failed" and "0 negative image" in single["error"]
    assert missing["hint"] and single["hint"]
    assert not (out / ".partial").exists()


def test_artifacts_follow_the_plans_layout(finished) -> None:
    _, _, out = finished
    folder = out / "densenet121_pneumonia_standard_models"
    for rel in (
        "models/model.keras",
        "models/model.h5",
        "models/model.weights.h5",
        "models/best_checkpoint.weights.h5",
        "configs/job_config.json",
        "results/metrics.json",
        "results/history.csv",
        "results/history.json",
        "results/predictions.csv",
        "results/curves.png",
        "README.md",
    ):
        assert (folder / rel).is_file() and (folder / rel).stat().st_size > 0, rel
    metrics = json.loads((folder / "results" / "metrics.json").read_text())
    assert "repeats" not in metrics  # one seed: no spread to report
    test = metrics["test"]
    for key in ("accuracy", "precision", "recall", "auroc", "specificity", "f1", "auprc", "brier"):
        assert isinstance(test[key], float), key
    assert metrics["threshold"]["chosen_on"] == "validation"
    assert test["n"]["positive"] + test["n"]["negative"] == sum(test["confusion_matrix"].values())
    with open(folder / "results" / "predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["split"] for r in rows} == {"val", "test"}
    assert sum(r["split"] == "test" for r in rows) == sum(test["n"].values())
    config = json.loads((folder / "configs" / "job_config.json").read_text())
    assert config["preset"]["image_size"] == 32 and config["dataset"]["name"] == "pneumonia"
    assert "research use only" in (folder / "README.md").read_text()
    assert not (out / "densenet121_missing_standard_models").exists()


def test_saved_model_reloads_and_predicts_like_the_metrics(finished) -> None:
    import keras
    import numpy as np

    from medcam_core.data.decode import decode
    from medcam_core.train.input_pipeline import to_model_input

    _, _, out = finished
    folder = out / "densenet121_pneumonia_standard_models"
    model = keras.saving.load_model(folder / "models" / "model.keras", safe_mode=True)
    with open(folder / "results" / "predictions.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test"][:4]
    x = to_model_input(np.stack([decode(Path(r["path"]), 32) for r in rows]))
    probs = model.predict(x, verbose=0).reshape(-1)
    np.testing.assert_allclose(probs, [float(r["probability"]) for r in rows], atol=1e-5)


def test_event_log_tells_the_whole_story(finished) -> None:
    _, _, out = finished
    events = read_events(out / "events.jsonl")
    kinds = [e.kind for e in events]
    assert kinds[0] == "queue_started" and kinds[-1] == "queue_finished"
    assert kinds.count("job_started") == 3
    for kind in (
        "dataset_loaded",
        "model_built",
        "epoch_started",
        "batch_progress",
        "epoch_ended",
        "job_finished",
    ):
        assert kind in kinds, kind
    failed = [e for e in events if isinstance(e, JobFailed)]
    assert {e.job_id for e in failed} == {"missing_standard", "single_standard"}
    assert all("Traceback" in e.traceback for e in failed)


def test_restart_keeps_finished_and_failed_jobs(finished) -> None:
    config, _, out = finished
    seen = []
    counts = Runner(config, [seen.append]).run()
    assert counts["done"] == 1 and counts["failed"] == 2
    assert not any(isinstance(e, JobStarted) for e in seen)


def test_cancel_mid_fit_then_retry(synthetic_root: Path, tmp_path: Path) -> None:
    config = tiny_queue((dataset_spec(synthetic_root, "cardiomegaly"),), tmp_path, {"standard": FAST})
    holder: dict[str, Runner] = {}

    def steer(event) -> None:
        if isinstance(event, BatchProgress) and event.batch == 1:
            holder["r"].stop_job(event.job_id, "cancelled")

    runner = Runner(config, [steer])
    holder["r"] = runner
    counts = runner.run()
    assert counts["cancelled"] == 1
    assert not (tmp_path / "densenet121_cardiomegaly_standard_models").exists()
    runner.retry("cardiomegaly_standard")
    assert runner.queue.get("cardiomegaly_standard").status == "queued"
    progress = json.loads((tmp_path / PROGRESS_FILE).read_text())
    assert progress["jobs"][0]["status"] == "queued"


def test_quit_requeues_the_running_job_and_the_next_start_resumes_it(synthetic_root: Path, tmp_path: Path) -> None:
    preset = tiny_preset(run_eagerly=True, epochs=4, patience=4)
    config = tiny_queue((dataset_spec(synthetic_root, "pneumonia"),), tmp_path, {"standard": preset})
    holder: dict[str, Runner] = {}

    def steer(event) -> None:
        if event.kind == "epoch_ended" and event.epoch == 2:
            holder["r"].control.quit()

    runner = Runner(config, [steer])
    holder["r"] = runner
    counts = runner.run()
    assert counts["queued"] == 1
    assert (tmp_path / ".partial" / "densenet121_pneumonia_standard_models" / ".backup").is_dir()
    seen: list = []
    again = Runner(config, [seen.append])
    assert again.run()["done"] == 1
    epochs = [e.epoch for e in seen if e.kind == "epoch_started"]
    assert epochs[0] == 3  # continues after the last completed epoch
    assert any(e.kind == "notice" and "resuming" in e.message for e in seen)
    history = json.loads((tmp_path / "densenet121_pneumonia_standard_models/results/history.json").read_text())
    assert len(history["loss"]) == 4  # epochs 1–2 from the first run, 3–4 from the second
    assert not (tmp_path / "densenet121_pneumonia_standard_models" / ".backup").exists()
    assert any(isinstance(e, JobFinished) for e in seen)


def test_headless_cli_exit_status_and_outputs(synthetic_root: Path, tmp_path: Path) -> None:
    toml = tmp_path / "medcam.toml"
    toml.write_text(
        f"""
[queue]
output = "out"
presets = ["quick"]
[presets.quick]
epochs = 1
image_size = 32
batch_size = 8
dense_units = 8
weights = "none"
run_eagerly = true
[evaluation]
bootstrap = 20
[[datasets]]
name = "pneumonia"
path = "{synthetic_root / "pneumonia"}"
positive = ["pneumonia"]
patient_id = '^(p\\d+)_'
[[datasets]]
name = "broken"
path = "does/not/exist"
positive = ["x"]
"""
    )
    proc = subprocess.run(
        [sys.executable, "-m", "medcam_tui.cli", "run", "--headless", "--config", str(toml)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = tmp_path / "out"
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "✓ done" in proc.stdout and "failed at load" in proc.stdout and "hint:" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "oneDNN" not in proc.stdout + proc.stderr  # TensorFlow's native chatter goes to the log
    assert (out / "densenet121_pneumonia_quick_models" / "results" / "metrics.json").is_file()
    assert "Traceback" in (out / "medcam.log").read_text()
    assert (out / "events.jsonl").is_file() and (out / ".medcam.lock").read_text() == ""


def test_metrics_and_intervals_recompute_from_saved_predictions(finished) -> None:
    import numpy as np
    from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

    from medcam_core.evaluate.metrics import analytic_ci

    config, _, out = finished
    folder = out / "densenet121_pneumonia_standard_models" / "results"
    saved = json.loads((folder / "metrics.json").read_text())
    with open(folder / "predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    val = [r for r in rows if r["split"] == "val"]
    test = [r for r in rows if r["split"] == "test"]
    yv, pv = np.array([int(r["label"]) for r in val]), np.array([float(r["probability"]) for r in val])
    yt, pt = np.array([int(r["label"]) for r in test]), np.array([float(r["probability"]) for r in test])

    fpr, tpr, thr = roc_curve(yv, pv)
    threshold = float(np.clip(thr, 0, 1)[np.argmax(tpr - fpr)])
    assert threshold == pytest.approx(saved["threshold"]["value"], abs=1e-7)
    tn, fp, fn, tp = confusion_matrix(yt, pt >= threshold, labels=[0, 1]).ravel()
    assert saved["test"]["confusion_matrix"] == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    assert saved["test"]["sensitivity"] == pytest.approx(tp / (tp + fn))
    assert saved["test"]["specificity"] == pytest.approx(tn / (tn + fp))
    assert saved["test"]["auroc"] == pytest.approx(roc_auc_score(yt, pt), abs=1e-6)

    assert config.evaluation.interval == "analytic"
    ci = analytic_ci(yt, pt, threshold, [r["patient"] for r in test], config.evaluation.confidence)
    for key in ("auroc", "sensitivity", "specificity", "accuracy"):
        assert saved["test"]["ci"][key] == pytest.approx(list(ci[key].interval), abs=1e-6), key
        assert saved["test"]["ci_method"][key] == ci[key].method, key
        low, high = saved["test"]["ci"][key]
        assert low <= saved["test"][key] + 1e-9 and saved["test"][key] <= high + 1e-9 or key == "auroc"


def test_report_of_a_real_run_quotes_the_metrics_files(finished) -> None:
    from medcam_core.outputs.report import build_report

    _, _, out = finished
    test = json.loads((out / "densenet121_pneumonia_standard_models/results/metrics.json").read_text())["test"]
    report = build_report(out)
    low, high = test["ci"]["auroc"]
    assert f"{test['auroc']:.3f} (95 % CI {low:.3f}–{high:.3f})" in report
    assert "dataset folder not found" in report and "0 negative image" in report
    assert "TRAINING COMPLETED WITH FAILURES" in report


def test_external_validation_lands_in_the_job_at_the_frozen_threshold(finished) -> None:
    """Every cardiomegaly image scored by the pneumonia model at its own validation threshold; the figures
    recomputed with sklearn from the saved rows; the unreadable dataset costs a warning, not the job."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from medcam_core.outputs.job_folder import JobFolder

    config, _, out = finished
    job = JobFolder(out / "densenet121_pneumonia_standard_models")
    assert [e.dataset for e in job.externals()] == ["cardiomegaly"]
    external = job.external("cardiomegaly")
    for path in (external.metrics_file, external.predictions_file, external.roc_file, external.calibration_file):
        assert path.is_file(), path
    saved = json.loads(external.metrics_file.read_text())
    own = json.loads(job.metrics_file.read_text())
    assert saved["threshold"]["value"] == own["threshold"]["value"] and "pneumonia" in saved["threshold"]["source"]
    assert (saved["model"], saved["dataset"], saved["split"], saved["imported"]) == (
        "pneumonia_standard",
        "cardiomegaly",
        "all",
        False,
    )
    with open(external.predictions_file) as fh:
        rows = list(csv.DictReader(fh))
    folder = next(d.path for d in config.datasets if d.name == "cardiomegaly")
    images = [p for p in folder.rglob("*.png") if not p.name.endswith(".mask.png")]
    assert len(rows) == sum(saved["test"]["n"].values()) == len(images) == 48
    y = np.array([int(r["label"]) for r in rows])
    p = np.array([float(r["probability"]) for r in rows])
    assert saved["test"]["auroc"] == pytest.approx(roc_auc_score(y, p))
    assert saved["test"]["sensitivity"] == pytest.approx(np.mean(p[y == 1] >= saved["threshold"]["value"]))
    low, high = saved["test"]["ci"]["auroc"]
    assert 0 <= low <= saved["test"]["auroc"] <= high <= 1
    notices = [e.message for e in read_events(out / "events.jsonl") if e.kind == "notice"]
    assert any("no external validation on 'missing'" in m for m in notices)
    assert not (out / "densenet121_cardiomegaly_standard_models").exists()  # validation only: never trained


def test_report_shows_the_train_by_test_matrix(finished) -> None:
    from medcam_core.outputs.report import build_report, md

    _, _, out = finished
    folder = out / "densenet121_pneumonia_standard_models"
    own = json.loads((folder / "results/metrics.json").read_text())["test"]
    ext = json.loads((folder / "results/external/cardiomegaly/metrics.json").read_text())["test"]
    report = build_report(out)
    assert "| model | cardiomegaly | pneumonia |" in report
    row = next(line for line in report.splitlines() if line.startswith(f"| {md('pneumonia_standard')} | "))
    _, external_cell, own_cell = row.removesuffix(" |").split(" | ")
    assert external_cell.startswith(f"{ext['auroc']:.3f} [") and external_cell.endswith(" · n 48")
    assert own_cell.startswith(f"**{own['auroc']:.3f} [")


def test_evaluate_cli_on_the_job_and_on_its_model_file_as_an_import(
    finished, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`evaluate` on the job (test split only) and on its .h5 copied out as a foreign file: the same
    weights give the same probabilities; the file is decided at 0.5 and listed as imported."""
    import hashlib

    from medcam_core.outputs.job_folder import JobFolder
    from medcam_core.outputs.report import build_report, md
    from medcam_core.outputs.results import load_job_results
    from medcam_tui.cli import main

    config, _, out = finished
    cardio = next(d.path for d in config.datasets if d.name == "cardiomegaly")
    job = JobFolder(out / "densenet121_pneumonia_standard_models")
    args = [str(cardio), "--positive", "cardiomegaly", "--name", "cardio-test", "--split", "test"]
    assert main(["evaluate", str(job.root), *args]) == 0
    assert "AUROC" in capsys.readouterr().out
    saved = json.loads(job.external("cardio-test").metrics_file.read_text())
    assert saved["split"] == "test" and saved["threshold"]["value"] == pytest.approx(
        json.loads(job.metrics_file.read_text())["threshold"]["value"]
    )
    whole = {
        r["path"]: float(r["probability"]) for r in csv.DictReader(job.external("cardiomegaly").predictions_file.open())
    }
    part = {
        r["path"]: float(r["probability"]) for r in csv.DictReader(job.external("cardio-test").predictions_file.open())
    }
    assert 0 < len(part) < len(whole) and all(part[p] == pytest.approx(whole[p], abs=1e-5) for p in part)

    foreign = tmp_path / "someones_model.h5"
    foreign.write_bytes(job.h5_model_file.read_bytes())
    assert main(["evaluate", str(foreign), *args[:3], "--name", "cardiomegaly", "--output", str(out)]) == 0
    imported = JobFolder(out / "imported" / "someones_model")
    record = json.loads(imported.import_file.read_text())
    assert (
        record["source"] == str(foreign.resolve())
        and record["sha256"] == hashlib.sha256(foreign.read_bytes()).hexdigest()
    )
    mine = json.loads(imported.external("cardiomegaly").metrics_file.read_text())
    assert mine["imported"] and mine["threshold"]["value"] == 0.5 and "pass --threshold" in mine["threshold"]["source"]
    theirs = {
        r["path"]: float(r["probability"])
        for r in csv.DictReader(imported.external("cardiomegaly").predictions_file.open())
    }
    assert theirs.keys() == whole.keys() and all(theirs[p] == pytest.approx(whole[p], abs=1e-5) for p in whole)
    assert load_job_results(imported.root).imported["preprocess"] == "densenet"
    row = next(line for line in build_report(out).splitlines() if line.startswith("| imported/someones"))
    assert row.count(" · n ") == 1  # an imported model has no own test split: one external cell
    assert f"- {md('imported/someones_model')}: {md(str(foreign.resolve()))}" in build_report(out)

    same_name = tmp_path / "someones_model.keras"  # another file of the same name: its own folder
    same_name.write_bytes(job.model_file.read_bytes())
    assert main(["evaluate", str(same_name), *args[:3], "--name", "cardiomegaly", "--output", str(out)]) == 0
    digest = hashlib.sha256(same_name.read_bytes()).hexdigest()
    other = JobFolder(out / "imported" / f"someones_model-{digest[:8]}")
    assert json.loads(other.import_file.read_text())["source"] == str(same_name.resolve())
    assert json.loads(imported.import_file.read_text())["source"] == str(foreign.resolve())

    assert main(["evaluate", str(foreign), "--dataset", "nope", "--config", str(tmp_path / "none.toml")]) == 2
    assert main(["evaluate", str(tmp_path / "missing.keras"), *args]) == 2
    assert not (out / "imported" / "missing").exists()


def test_gradcam_cli_on_a_finished_model(finished) -> None:
    _, _, out = finished
    folder = out / "densenet121_pneumonia_standard_models"
    metrics = json.loads((folder / "results" / "metrics.json").read_text())
    assert set(metrics["gradcam"]["layers"]) == {"relu", "conv5_block16_2_conv"}
    assert metrics["gradcam"]["examples"] == len(list((folder / "gradcam").glob("*_panel.png")))
    target = out / "cams"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "medcam_tui.cli",
            "gradcam",
            str(folder),
            "--layer",
            "conv5_block16_2_conv",
            "--target",
            "positive",
            "--out",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "layer conv5_block16_2_conv" in proc.stdout
    assert len(list(target.glob("*_overlay.png"))) == metrics["gradcam"]["examples"]
    bad = subprocess.run(
        [sys.executable, "-m", "medcam_tui.cli", "gradcam", str(folder), "--layer", "nope"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "usable layers" in bad.stderr and "Traceback" not in bad.stderr
