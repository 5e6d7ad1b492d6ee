"""Damaged state on disk never costs finished work: a progress file that cannot be read, a finished
job whose model was deleted, event-log lines that are not events, a job that comes back queued."""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from pathlib import Path

import pytest

from medcam_core.events import JobFailed, JobStarted, JobStopped, Notice
from medcam_core.jobqueue.event_log import EventLog, follow, read_events
from medcam_core.jobqueue.runner import Runner
from medcam_core.jobqueue.state import PROGRESS_FILE, JobQueue
from medcam_core.serialize import write_json_atomic
from medcam_tui.commands import report_command

from conftest import dataset_spec, tiny_queue
from test_report import job, layout, metrics

DONE, QUEUED = "pneumonia_standard", "cardiomegaly_standard"
WHOLE = json.dumps({"jobs": [job(DONE, "done"), job(QUEUED, "queued")]}).encode()
DAMAGE = {
    "truncated": WHOLE[: len(WHOLE) // 2],
    "binary garbage": b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01garbage",
    "a JSON list": b"[1, 2]",
    "a JSON number": b"3",
    "jobs of the wrong type": b'{"jobs": {"pneumonia_standard": "done"}}',
    "an entry missing its keys": b'{"jobs": [{"id": "pneumonia_standard"}]}',
    "a value of the wrong type": json.dumps({"jobs": [{**job(DONE, "done"), "status": 5}]}).encode(),
    "a job listed twice": json.dumps({"jobs": [job(DONE, "done"), job(DONE, "queued")]}).encode(),
}


def committed(root: Path, job_id: str, model: bool = True) -> Path:
    """A job folder as the runner commits it (the report tests' fabricated one), with or without its model."""
    folder = root / f"densenet121_{job_id}_models"
    write_json_atomic(folder / "results" / "metrics.json", metrics(0.9612))
    if model:
        (folder / "models").mkdir()
        (folder / "models" / "model.keras").write_bytes(b"placeholder")
    return folder


def two_job_config(root: Path):
    """pneumonia × standard and cardiomegaly × standard; their data folders need not exist."""
    return tiny_queue((dataset_spec(root, "pneumonia"), dataset_spec(root, "cardiomegaly")), root)


@pytest.mark.parametrize("damage", DAMAGE)
def test_an_unreadable_progress_file_is_kept_aside_and_the_folders_say_what_finished(
    tmp_path: Path, damage: str
) -> None:
    config = two_job_config(tmp_path)
    committed(tmp_path, DONE)
    (tmp_path / PROGRESS_FILE).write_bytes(DAMAGE[damage])
    queue = JobQueue.resume(config, tmp_path / PROGRESS_FILE)
    assert {e["id"]: e["status"] for e in queue.snapshot()} == {DONE: "done", QUEUED: "queued"}
    assert queue.get(DONE).metrics["auroc"] == 0.9612
    (note,) = queue.take_notes()
    assert "unreadable" in note and f"{PROGRESS_FILE}.damaged" in note and "rebuilt from the job folders" in note
    assert (tmp_path / f"{PROGRESS_FILE}.damaged").read_bytes() == DAMAGE[damage]  # nothing lost
    assert not (tmp_path / PROGRESS_FILE).exists()


def test_a_second_damaged_file_never_overwrites_the_first(tmp_path: Path) -> None:
    config = two_job_config(tmp_path)
    for content in (b"first", b"second"):
        (tmp_path / PROGRESS_FILE).write_bytes(content)
        JobQueue.resume(config, tmp_path / PROGRESS_FILE)
    assert (tmp_path / f"{PROGRESS_FILE}.damaged").read_bytes() == b"first"
    assert (tmp_path / f"{PROGRESS_FILE}.damaged.1").read_bytes() == b"second"


def test_a_finished_job_whose_model_was_deleted_trains_again(tmp_path: Path) -> None:
    config = two_job_config(tmp_path)
    committed(tmp_path, DONE, model=False)
    for progress in (None, {"jobs": [job(DONE, "done")]}):  # no progress file, then one that says done
        if progress is not None:
            write_json_atomic(tmp_path / PROGRESS_FILE, progress)
        queue = JobQueue.resume(config, tmp_path / PROGRESS_FILE)
        assert queue.get(DONE).status == "queued" and queue.counts()["done"] == 0
        (note,) = queue.take_notes()
        assert DONE in note and "models/model.keras" in note and "train again" in note


def test_a_damaged_progress_file_costs_no_finished_job_in_a_real_run(tmp_path: Path) -> None:
    """End to end: the finished job is not started, the one without its model is, and both are said."""
    config = two_job_config(tmp_path)
    committed(tmp_path, DONE)
    committed(tmp_path, QUEUED, model=False)
    (tmp_path / PROGRESS_FILE).write_bytes(DAMAGE["truncated"])
    events: list = []
    counts = Runner(config, [events.append]).run()  # no data folders: the re-queued job fails at load
    assert counts["done"] == 1 and counts["failed"] == 1
    started = {e.job_id for e in events if isinstance(e, JobStarted)}
    assert started == {QUEUED}
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("unreadable" in n and f"{PROGRESS_FILE}.damaged" in n for n in notices)
    assert any(QUEUED in n and "model.keras" in n for n in notices)
    saved = {j["id"]: j["status"] for j in json.loads((tmp_path / PROGRESS_FILE).read_text())["jobs"]}
    assert saved == {DONE: "done", QUEUED: "failed"}


@pytest.mark.parametrize("damage", DAMAGE)
def test_report_on_a_damaged_progress_file_lists_the_finished_folders(tmp_path: Path, damage: str) -> None:
    layout(tmp_path, [], {DONE: 0.9612})
    (tmp_path / PROGRESS_FILE).write_bytes(DAMAGE[damage])
    assert report_command(tmp_path, None, None) == 0
    report = (tmp_path / "STATUS_REPORT.md").read_text()
    assert "unreadable" in report and "#### pneumonia — standard" in report and "0.961 (95 % CI" in report
    assert "| 1 | 1 | 0 | 0 | 0 |" in report  # planned, completed, failed, stopped, queued
    rows = {r["job"]: r for r in csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text()))}
    assert rows[DONE]["status"] == "done" and float(rows[DONE]["auroc"]) == 0.9612
    assert (tmp_path / PROGRESS_FILE).read_bytes() == DAMAGE[damage]  # the report only reads


def test_report_never_calls_a_job_without_its_model_done(tmp_path: Path) -> None:
    layout(tmp_path, [job(DONE, "done"), job(QUEUED, "done")], {DONE: 0.9612, QUEUED: 0.85})
    (tmp_path / f"densenet121_{QUEUED}_models" / "models" / "model.keras").unlink()
    assert report_command(tmp_path, None, None) == 0
    report = (tmp_path / "STATUS_REPORT.md").read_text()
    assert "cardiomegaly\\_standard is marked done but its folder has no models/model.keras" in report
    assert "#### cardiomegaly — standard" not in report and "| 2 | 1 | 0 | 0 | 1 |" in report
    rows = {r["job"]: r for r in csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text()))}
    assert rows[QUEUED]["status"] == "queued" and rows[QUEUED]["auroc"] == ""


def test_report_survives_a_metrics_file_that_is_not_an_object(tmp_path: Path) -> None:
    layout(tmp_path, [job(DONE, "done")], {DONE: 0.9612})
    (tmp_path / f"densenet121_{DONE}_models" / "results" / "metrics.json").write_text("[1, 2]")
    assert report_command(tmp_path, None, None) == 0
    assert (
        "unreadable results: unreadable metrics.json: not a JSON object" in (tmp_path / "STATUS_REPORT.md").read_text()
    )


NOT_EVENTS = ["[1,2]", "3", '"x"', "null", '{"type": "no_such_event"}', '{"type": "notice"}', "{ torn"]


def test_event_log_lines_that_are_not_events_are_skipped_and_following_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.jsonl"
    sink = EventLog(path)
    sink(Notice("info", "first"))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(f"{line}\n" for line in NOT_EVENTS))
    sink(Notice("info", "second"))
    stop, seen = threading.Event(), []

    def attach() -> None:
        for event in follow(path, stop, poll_s=0.01):
            seen.append(event.message)

    caplog.set_level(logging.WARNING, logger="medcam")
    reader = threading.Thread(target=attach)
    reader.start()
    deadline = time.monotonic() + 5
    while len(seen) < 2 and reader.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    sink(Notice("info", "third"))  # arrives after the bad lines: still followed
    while len(seen) < 3 and reader.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    reader.join(5)
    sink.close()
    assert seen == ["first", "second", "third"]
    assert sum("not an event" in r.getMessage() for r in caplog.records) == len(NOT_EVENTS)
    assert [e.message for e in read_events(path)] == ["first", "second", "third"]
    assert f"skipped {len(NOT_EVENTS)} line(s)" in caplog.records[-1].getMessage()


def test_no_run_starts_a_job_twice_unless_the_user_retries_it(tmp_path: Path) -> None:
    runner = Runner(two_job_config(tmp_path), [])
    starts: list[str] = []

    def comes_back_queued(job) -> None:
        """Injected fault: the job ends queued again, as if something re-queued it behind the loop's back."""
        starts.append(job.id)
        runner.publish(JobStarted(job.id, job.dataset.name, job.preset.name, 1, 2, 1))
        if len(starts) > 5:
            runner.control.quit()  # the loop would go on for ever: end it, the assertions tell
        outcome = "interrupted" if starts.count(job.id) == 1 else "skipped"
        runner.publish(JobStopped(job.id, outcome, "injected", 0.0))

    retried: list[str] = []

    def retry_the_first_refusal(event) -> None:  # what `r` in the TUI does
        if isinstance(event, JobFailed) and not retried:
            retried.append(event.job_id)
            runner.retry(event.job_id)

    runner._run_job = comes_back_queued
    runner.sinks.append(retry_the_first_refusal)
    runner._run_here()
    assert starts == [DONE, DONE, QUEUED]  # started again only after the retry
    assert retried == [DONE]
    assert runner.queue.get(DONE).status == "skipped"
    refused = runner.queue.get(QUEUED)
    assert refused.status == "failed" and "not started twice" in refused.error and refused.hint.startswith("retry")
