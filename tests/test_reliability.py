"""Crash safety: kill -9 mid-job and restart, a kill after commit, and faults injected at each stage."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medcam_core.jobqueue.event_log import read_events
from medcam_core.jobqueue.runner import Runner
from medcam_core.jobqueue.state import PROGRESS_FILE, JobQueue

from conftest import dataset_spec, tiny_preset, tiny_queue

pytestmark = pytest.mark.cost(164)

QUEUE = """
[queue]
output = "out"
presets = ["long"]
[presets.long]
epochs = 6
patience = 6
image_size = 32
batch_size = 8
dense_units = 8
weights = "none"
run_eagerly = true
[evaluation]
bootstrap = 20
[[datasets]]
name = "pneumonia"
path = "{root}/pneumonia"
positive = ["pneumonia"]
patient_id = '^(p\\\\d+)_'
[[datasets]]
name = "cardiomegaly"
path = "{root}/cardiomegaly"
positive = ["cardiomegaly"]
patient_id = '^(p\\\\d+)_'
"""


def _start_queue(data: Path, tmp_path: Path) -> tuple[Path, Path, subprocess.Popen]:
    """Write the two-job queue over `data` and start it headless: (config, output root, process)."""
    toml = tmp_path / "medcam.toml"
    toml.write_text(QUEUE.format(root=data))
    proc = subprocess.Popen(
        [sys.executable, "-m", "medcam_tui.cli", "run", "--headless", "--config", str(toml)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return toml, tmp_path / "out", proc


def test_kill_9_mid_job_resumes_from_the_last_epoch(synthetic_root: Path, tmp_path: Path) -> None:
    toml, out, proc = _start_queue(synthetic_root, tmp_path)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        ended = [e for e in read_events(out / "events.jsonl") if e.kind == "epoch_ended"]
        if len(ended) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = max(e.epoch for e in read_events(out / "events.jsonl") if e.kind == "epoch_ended")
    progress = json.loads((out / PROGRESS_FILE).read_text())
    assert progress["jobs"][0]["status"] == "running"  # as the kill left it
    assert not (out / "densenet121_pneumonia_long_models").exists()  # no half-written job folder

    again = subprocess.run(
        [sys.executable, "-m", "medcam_tui.cli", "run", "--headless", "--config", str(toml)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    events = read_events(out / "events.jsonl")
    second_run = events[max(i for i, e in enumerate(events) if e.kind == "queue_started") :]
    first_epoch = next(e.epoch for e in second_run if e.kind == "epoch_started" and e.job_id == "pneumonia_long")
    assert first_epoch == killed_at + 1  # resumed, not restarted
    assert any(e.kind == "notice" and "resuming" in e.message for e in second_run)
    history = json.loads((out / "densenet121_pneumonia_long_models/results/history.json").read_text())
    metrics = json.loads((out / "densenet121_pneumonia_long_models/results/metrics.json").read_text())
    assert len(history["loss"]) == metrics["training"]["epochs_run"] >= killed_at + 1  # continuous history
    finished = [e.job_id for e in events if e.kind == "job_finished"]
    assert sorted(finished) == ["cardiomegaly_long", "pneumonia_long"]  # each trained to the end once
    assert not (out / ".partial").exists() and (out / ".medcam.lock").read_text() == ""


def test_a_job_committed_before_the_kill_is_never_trained_again(synthetic_root: Path, tmp_path: Path) -> None:
    config = tiny_queue(
        (dataset_spec(synthetic_root, "pneumonia"),), tmp_path, {"standard": tiny_preset(run_eagerly=True)}
    )
    Runner(config, []).run()
    progress = json.loads((tmp_path / PROGRESS_FILE).read_text())
    progress["jobs"][0]["status"] = "running"  # the kill came after the rename, before this write
    (tmp_path / PROGRESS_FILE).write_text(json.dumps(progress))
    queue = JobQueue.resume(config, tmp_path / PROGRESS_FILE)
    entry = queue.get("pneumonia_standard")
    assert entry.status == "done" and entry.metrics["auroc"] is not None
    (tmp_path / PROGRESS_FILE).unlink()  # even with the progress file gone
    assert JobQueue.resume(config, tmp_path / PROGRESS_FILE).get("pneumonia_standard").status == "done"


STAGES = {
    "load": ("medcam_core.job.stages", "load_dataset", OSError("Input/output error")),
    "build": ("medcam_core.train.model", "build_model", RuntimeError("injected build failure")),
    "evaluate": ("medcam_core.evaluate.metrics", "evaluate", ValueError("injected evaluation failure")),
    "save": ("medcam_core.job.stages", "write_predictions", OSError(28, "No space left on device")),
}


def test_faults_at_each_stage_fail_only_their_job(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    import numpy as np

    from medcam_core.train import callbacks
    from medcam_core.train import fit as training

    current: dict[str, str] = {}

    def inject(module_name: str, attr: str, fault: Exception, job: str) -> None:
        module = importlib.import_module(module_name)
        original = getattr(module, attr)

        def wrapper(*args, **kwargs):
            if current.get("job") == job:
                raise fault
            return original(*args, **kwargs)

        monkeypatch.setattr(module, attr, wrapper)

    for stage, (module_name, attr, fault) in STAGES.items():
        inject(module_name, attr, fault, f"d{stage}_standard")

    original_batch_end = callbacks.EventCallback.on_train_batch_end

    def batch_end(self, batch, logs=None):
        if self.job_id == "dfit_standard" and batch == 1:
            raise RuntimeError("injected mid-epoch failure")
        return original_batch_end(self, batch, logs)

    monkeypatch.setattr(callbacks.EventCallback, "on_train_batch_end", batch_end)
    original_batches = training.tensor_batches

    def poisoned(values, *args, **kwargs):
        if current.get("job") == "dnan_standard":
            values = np.full(values.shape, np.nan, np.float32)
        return original_batches(values, *args, **kwargs)

    monkeypatch.setattr(training, "tensor_batches", poisoned)

    names = [*(f"d{stage}" for stage in STAGES), "dfit", "dnan"]
    datasets = tuple(dataset_spec(synthetic_root, "pneumonia", name=n) for n in names)
    datasets += (dataset_spec(synthetic_root, "cardiomegaly", name="good"),)
    config = tiny_queue(datasets, tmp_path, {"standard": tiny_preset(run_eagerly=True)})

    def follow(event) -> None:
        if event.kind == "job_started":
            current["job"] = event.job_id

    counts = Runner(config, [follow]).run()
    jobs = {j["id"]: j for j in json.loads((tmp_path / PROGRESS_FILE).read_text())["jobs"]}
    expected = {**{f"d{s}_standard": s for s in STAGES}, "dfit_standard": "fit", "dnan_standard": "fit"}
    for job_id, stage in expected.items():
        assert jobs[job_id]["status"] == "failed" and jobs[job_id]["stage"] == stage, jobs[job_id]
        assert not (tmp_path / f"densenet121_{job_id}_models").exists()
    assert "No space left" in jobs["dsave_standard"]["error"]
    assert jobs["dsave_standard"]["hint"].startswith("check free disk space")
    assert "NaN" in jobs["dnan_standard"]["error"] and "learning_rate" in jobs["dnan_standard"]["hint"]
    assert "mid-epoch" in jobs["dfit_standard"]["error"]
    assert jobs["good_standard"]["status"] == "done" and counts == {**counts, "done": 1, "failed": 6}
    assert not (tmp_path / ".partial").exists()


def test_images_deleted_during_training_do_not_fail_the_job(synthetic_root: Path, tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(synthetic_root / "pneumonia", data / "pneumonia")
    config = tiny_queue(
        (dataset_spec(data, "pneumonia"),), tmp_path / "out", {"standard": tiny_preset(run_eagerly=True)}
    )
    deleted: list[Path] = []

    def vandal(event) -> None:
        if event.kind == "epoch_started" and not deleted:
            deleted.extend(sorted((data / "pneumonia" / "pneumonia").glob("p1*_1.png"))[:40])
            for path in deleted:
                path.unlink()

    counts = Runner(config, [vandal]).run()
    assert deleted and counts["done"] == 1


def _wait_for_epochs(out: Path, n: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 240
    while sum(e.kind == "epoch_ended" for e in read_events(out / "events.jsonl")) < n:
        assert proc.poll() is None and time.monotonic() < deadline, "the queue ended or stalled"
        time.sleep(0.05)


def test_ctrl_c_once_finishes_the_batch_saves_and_exits_130(synthetic_root: Path, tmp_path: Path) -> None:
    toml, out, proc = _start_queue(synthetic_root, tmp_path)
    _wait_for_epochs(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    jobs = json.loads((out / PROGRESS_FILE).read_text())["jobs"]
    assert [j["status"] for j in jobs] == ["queued", "queued"]  # the interrupted job runs again
    assert (out / ".partial" / "densenet121_pneumonia_long_models" / ".backup").is_dir()
    assert (out / ".medcam.lock").read_text() == ""
    stopped = [e for e in read_events(out / "events.jsonl") if e.kind == "job_stopped"]
    assert stopped and stopped[-1].status == "interrupted"


def test_ctrl_c_twice_exits_at_once_with_whole_state(synthetic_root: Path, tmp_path: Path) -> None:
    toml, out, proc = _start_queue(synthetic_root, tmp_path)
    _wait_for_epochs(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    json.loads((out / PROGRESS_FILE).read_text())  # whole, whatever instant it stopped at
