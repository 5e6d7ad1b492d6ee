"""Jobs in other processes: Ray tasks on a local Ray instance, and `--parallel` spawned processes."""

from __future__ import annotations

import json
import os
import re
import signal
from dataclasses import replace
from io import StringIO
from pathlib import Path

import pytest
import ray
from rich.console import Console

from medcam_core.events import Event
from medcam_core.jobqueue.runner import Runner
from medcam_core.jobqueue.state import PROGRESS_FILE
from medcam_tui.console import ConsoleSink

from conftest import dataset_spec, tiny_preset, tiny_queue

pytestmark = pytest.mark.cost(97)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def three_jobs(root: Path, output: Path, **queue: object):
    datasets = (
        dataset_spec(root, "pneumonia"),
        dataset_spec(root, "cardiomegaly", name="victim"),
        dataset_spec(root, "cardiomegaly"),
    )
    config = tiny_queue(datasets, output, {"standard": tiny_preset(epochs=2, run_eagerly=True)})
    return replace(config, **queue)


class KillOnFirstBatch:
    """A sink that kills the worker of `victim` as soon as it trains: a worker lost mid-job."""

    def __init__(self, victim: str) -> None:
        self.victim, self.pid, self.events = victim, None, []

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if event.kind == "notice" and event.job_id == self.victim and "runs in process" in event.message:
            self.pid = int(re.search(r"process (\d+)", event.message).group(1))
        if event.kind == "batch_progress" and event.job_id == self.victim and self.pid:
            os.kill(self.pid, signal.SIGKILL)
            self.pid = None


def test_ray_runs_jobs_concurrently_and_a_killed_worker_fails_only_its_job(
    local_ray, synthetic_root: Path, tmp_path: Path
) -> None:
    config = three_jobs(synthetic_root, tmp_path / "out", executor="ray", parallel=2, cpus_per_job=1.0)
    sink = KillOnFirstBatch("victim_standard")
    counts = Runner(config, [sink]).run()
    assert counts["done"] == 2 and counts["failed"] == 1

    progress = {j["id"]: j for j in json.loads((tmp_path / "out" / PROGRESS_FILE).read_text())["jobs"]}
    victim = progress["victim_standard"]
    assert victim["status"] == "failed" and victim["stage"] == "fit" and "Ray task failed" in victim["error"]
    assert "retry resumes" in victim["hint"]
    for job in ("pneumonia_standard", "cardiomegaly_standard"):
        folder = tmp_path / "out" / f"densenet121_{job}_models"
        assert progress[job]["status"] == "done" and progress[job]["metrics"]["auroc"] is not None
        for name in ("models/model.keras", "results/metrics.json", "results/predictions.csv", "README.md"):
            assert (folder / name).is_file(), name
    assert not (tmp_path / "out" / "densenet121_victim_standard_models").exists()  # never half-written

    by_job: dict[str, list[Event]] = {}
    for event in sink.events:
        by_job.setdefault(getattr(event, "job_id", None), []).append(event)
    for job in ("pneumonia_standard", "cardiomegaly_standard"):
        kinds = [e.kind for e in by_job[job]]
        assert kinds.index("job_started") < kinds.index("stage_started") < kinds.index("epoch_ended")
        assert kinds[-1] == "job_finished" and kinds.count("job_finished") == 1
        epochs = [e.epoch for e in by_job[job] if e.kind == "epoch_ended"]
        assert epochs == sorted(epochs) and epochs
    order = [(e.kind, getattr(e, "job_id", None)) for e in sink.events]
    first_done = order.index(("job_finished", "pneumonia_standard"))
    assert ("job_started", "victim_standard") in order[:first_done]  # the first two ran side by side
    assert order[-1][0] == "queue_finished"


def test_parallel_processes_run_side_by_side_and_a_cancel_kills_only_its_worker(
    synthetic_root: Path, tmp_path: Path
) -> None:
    datasets = (dataset_spec(synthetic_root, "pneumonia"), dataset_spec(synthetic_root, "cardiomegaly"))
    config = replace(
        tiny_queue(datasets, tmp_path / "out", {"standard": tiny_preset(epochs=2, run_eagerly=True)}), parallel=2
    )
    screen = StringIO()
    events: list[Event] = []
    runner: Runner

    def cancel_cardiomegaly_when_it_trains(event: Event) -> None:
        events.append(event)
        if event.kind == "batch_progress" and event.job_id == "cardiomegaly_standard":
            runner.stop_job("cardiomegaly_standard", "cancelled")

    runner = Runner(config, [cancel_cardiomegaly_when_it_trains, ConsoleSink(Console(file=screen, width=300))])
    counts = runner.run()
    assert counts["done"] == 1 and counts["cancelled"] == 1
    stopped = [e for e in events if e.kind == "job_stopped"]
    assert [(e.job_id, e.status) for e in stopped] == [("cardiomegaly_standard", "cancelled")]
    assert not (tmp_path / "out" / ".partial" / "densenet121_cardiomegaly_standard_models").exists()
    assert (tmp_path / "out" / "densenet121_pneumonia_standard_models" / "results" / "metrics.json").is_file()
    pids = {e.job_id: e.message for e in events if e.kind == "notice" and "runs in process" in e.message}
    assert len(pids) == 2 and len(set(pids.values())) == 2 and str(os.getpid()) not in "".join(pids.values())
    lines = screen.getvalue().splitlines()
    assert any(line.startswith("pneumonia_standard epoch") for line in lines)
    assert any(line.startswith("cardiomegaly_standard") for line in lines)
