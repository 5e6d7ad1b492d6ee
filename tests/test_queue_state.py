"""Queue state and its guards: reordering rules, resume semantics, one writer per output root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medcam_core.lock import OutputLock, OutputLocked
from medcam_core.queue_state import PROGRESS_FILE, JobQueue, QueueError, save_progress

from conftest import dataset_spec, tiny_queue


def make_queue(tmp_path: Path):
    specs = tuple(dataset_spec(tmp_path, name) for name in ("pneumonia", "cardiomegaly"))
    from conftest import tiny_preset

    config = tiny_queue(specs, tmp_path, {"standard": tiny_preset(), "intensive": tiny_preset("intensive")})
    return config, JobQueue.from_config(config)


def ids(queue: JobQueue) -> list[str]:
    return [e["id"] for e in queue.snapshot()]


def test_move_remove_retry_add(tmp_path: Path) -> None:
    config, queue = make_queue(tmp_path)
    changes: list[int] = []
    queue.subscribe(lambda snap: changes.append(len(snap)))
    assert ids(queue)[:2] == ["pneumonia_standard", "pneumonia_intensive"]
    queue.update("pneumonia_standard", status="done")
    queue.move("cardiomegaly_standard", -1)
    assert ids(queue) == [
        "pneumonia_standard",
        "cardiomegaly_standard",
        "pneumonia_intensive",
        "cardiomegaly_intensive",
    ]
    queue.move("cardiomegaly_standard", -1)  # done jobs keep their place: nothing queued above
    assert ids(queue)[1] == "cardiomegaly_standard"
    with pytest.raises(QueueError, match="only queued"):
        queue.move("pneumonia_standard", 1)
    with pytest.raises(QueueError, match="only failed"):
        queue.retry("pneumonia_standard")
    with pytest.raises(QueueError, match="already done"):
        queue.add(config.job_by_id("pneumonia_standard"))
    queue.remove("cardiomegaly_intensive")
    assert "cardiomegaly_intensive" not in ids(queue)
    queue.add(config.job_by_id("cardiomegaly_intensive"))
    assert ids(queue)[-1] == "cardiomegaly_intensive"
    queue.update("pneumonia_intensive", status="failed", error="x", stage="fit")
    queue.retry("pneumonia_intensive")
    assert queue.get("pneumonia_intensive").status == "queued" and queue.get("pneumonia_intensive").error == ""
    assert len(changes) == 6


def test_resume_requeues_running_and_lost_jobs(tmp_path: Path) -> None:
    config, queue = make_queue(tmp_path)
    queue.update("pneumonia_standard", status="done")
    queue.update("pneumonia_intensive", status="running")
    queue.update("cardiomegaly_standard", status="failed", error="boom")
    (tmp_path / "densenet121_pneumonia_standard_models").mkdir()
    save_progress(tmp_path / PROGRESS_FILE, queue.snapshot(), {})
    again = JobQueue.resume(config, tmp_path / PROGRESS_FILE)
    status = {e["id"]: e["status"] for e in again.snapshot()}
    assert status == {
        "pneumonia_standard": "done",
        "pneumonia_intensive": "queued",
        "cardiomegaly_standard": "failed",
        "cardiomegaly_intensive": "queued",
    }
    (tmp_path / "densenet121_pneumonia_standard_models").rmdir()  # a done job whose folder vanished
    assert JobQueue.resume(config, tmp_path / PROGRESS_FILE).get("pneumonia_standard").status == "queued"
    (tmp_path / PROGRESS_FILE).write_text("{ torn")
    assert [e["status"] for e in JobQueue.resume(config, tmp_path / PROGRESS_FILE).snapshot()] == ["queued"] * 4
    assert json.loads(json.dumps(again.snapshot()))


def test_second_writer_is_refused_and_stale_lock_taken_over(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from medcam_core.lock import OutputLock; import time; "
            f"OutputLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputLocked, match=f"pid {holder.pid}"):
            OutputLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with OutputLock(tmp_path) as lock:  # the dead holder's lock is stale
        assert lock.path.read_text() == str(os.getpid())
    assert not lock.path.exists()
