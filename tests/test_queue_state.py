"""Queue state and its guards: reordering rules, resume semantics, one writer per output root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medcam_core.jobqueue.lock import OutputLock, OutputLocked
from medcam_core.jobqueue.state import PROGRESS_FILE, JobQueue, QueueError, save_progress
from medcam_core.outputs.job_folder import JobFolder
from medcam_core.vocabulary import Status

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
    model = JobFolder.committed(tmp_path, "densenet121_pneumonia_standard_models").model_file
    model.parent.mkdir(parents=True)
    model.write_bytes(b"placeholder")
    save_progress(tmp_path / PROGRESS_FILE, queue.snapshot(), {})
    again = JobQueue.resume(config, tmp_path / PROGRESS_FILE)
    status = {e["id"]: e["status"] for e in again.snapshot()}
    assert status == {
        "pneumonia_standard": "done",
        "pneumonia_intensive": "queued",
        "cardiomegaly_standard": "failed",
        "cardiomegaly_intensive": "queued",
    }
    model.unlink()  # a done job whose model vanished trains again, and says so
    lost = JobQueue.resume(config, tmp_path / PROGRESS_FILE)
    assert lost.get("pneumonia_standard").status == "queued"
    assert any("pneumonia_standard" in note and "model.keras" in note for note in lost.take_notes())
    assert lost.take_notes() == []  # announced once
    shutil.rmtree(tmp_path / "densenet121_pneumonia_standard_models")
    assert JobQueue.resume(config, tmp_path / PROGRESS_FILE).get("pneumonia_standard").status == "queued"
    assert json.loads(json.dumps(again.snapshot()))


def test_statuses_are_the_vocabulary_and_plain_text_on_disk(tmp_path: Path) -> None:
    config, queue = make_queue(tmp_path)
    queue.update("pneumonia_standard", status="failed")
    assert queue.get("pneumonia_standard").status is Status.FAILED
    assert queue.get("pneumonia_intensive").status is Status.QUEUED
    with pytest.raises(ValueError):
        queue.update("pneumonia_standard", status="finished")  # no such status: refused, not stored
    counts = queue.counts()
    assert list(counts) == [s.value for s in Status] and all(type(k) is str for k in counts)
    save_progress(tmp_path / PROGRESS_FILE, queue.snapshot(), {})
    saved = json.loads((tmp_path / PROGRESS_FILE).read_text())
    assert [e["status"] for e in saved["jobs"]] == ["failed", "queued", "queued", "queued"]
    resumed = JobQueue.resume(config, tmp_path / PROGRESS_FILE)
    assert resumed.get("pneumonia_standard").status is Status.FAILED


HOLDER = """
import sys, time
from medcam_core.jobqueue.lock import OutputLock
OutputLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(30)
"""


def test_second_writer_is_refused_and_stale_lock_taken_over(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputLocked, match=f"pid {holder.pid}"):
            OutputLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with OutputLock(tmp_path) as lock:  # the kernel released the dead holder's lock
        assert lock.path.read_text() == str(os.getpid())
    assert lock.path.read_text() == ""  # never unlinked (that races with flock), only cleared


WRITER = """
import os, sys, time
from medcam_core.jobqueue.lock import OutputLock, OutputLocked
lock = OutputLock(sys.argv[1])
print("ready", flush=True)
while not os.path.exists(sys.argv[2]):
    pass
try:
    lock.acquire()
except OutputLocked:
    print("refused", flush=True)
    sys.exit(0)
took = time.monotonic()
time.sleep(0.03)
print("held", took, time.monotonic(), flush=True)
lock.release()
"""


def test_four_writers_after_a_kill_9_never_hold_the_lock_at_once(tmp_path: Path) -> None:
    """A stale lock left by kill -9, then four starters at the same instant: exactly one at a time."""
    for trial in range(30):
        root = tmp_path / str(trial)
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "held"
        holder.kill()
        holder.wait()
        holder.stdout.close()
        go = root / "go"
        writers = [
            subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(go)], stdout=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        for writer in writers:
            assert writer.stdout.readline().strip() == "ready"
        go.touch()
        held = []
        for writer in writers:
            out, _ = writer.communicate(timeout=30)
            assert writer.returncode == 0, out
            held += [tuple(map(float, line.split()[1:])) for line in out.splitlines() if line.startswith("held")]
        assert held, f"trial {trial}: nobody took the lock"
        held.sort()
        for (_, end), (start, _) in zip(held, held[1:], strict=False):
            assert end <= start, f"trial {trial}: two writers held the lock at once: {held}"


def test_an_output_root_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    afile = tmp_path / "results.txt"
    afile.write_text("not a folder")
    for root in (afile, afile / "below"):
        with pytest.raises(OutputLocked, match=f"^{afile} is a file, not a folder"):
            OutputLock(root).acquire()
