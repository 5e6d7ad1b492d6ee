"""JSON safety (the seed lost every detail file to float32) and the event contract."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from medcam_core.events import BatchProgress, EpochEnded, Event, JobFailed, JobStarted, Notice, QueueStarted
from medcam_core.jobqueue.event_log import EventLog, follow, read_events
from medcam_core.serialize import dumps, write_json_atomic


def test_numpy_nan_and_paths_become_strict_json() -> None:
    value = {
        "f32": np.float32(0.25),
        "i64": np.int64(7),
        "arr": np.arange(3, dtype=np.int32),
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "flag": np.bool_(True),
        "path": Path("a/b"),
        ("t",): (1, 2),
    }
    text = dumps(value)
    back = json.loads(text)
    assert back == {
        "f32": 0.25,
        "i64": 7,
        "arr": [0, 1, 2],
        "nan": None,
        "inf": None,
        "flag": True,
        "path": "a/b",
        "('t',)": [1, 2],
    }


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "progress.json"
    write_json_atomic(target, {"x": np.float32(1.5)})
    write_json_atomic(target, {"x": 2})
    assert json.loads(target.read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["progress.json"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_events_round_trip_through_json() -> None:
    events: list[Event] = [
        QueueStarted([{"id": "a"}], "/out", "CPU", "cfg"),
        EpochEnded("a", 1, 10, {"loss": np.float32(0.5), "val_loss": float("nan")}, np.float32(1e-4), 1.0),
        BatchProgress("a", 1, 3, 10, 12.5, None),
        JobFailed("a", "load", "boom", "hint", "tb", 0.1),
        Notice("warning", "careful"),
        JobStarted("a", "d", "p", 1, 2, 10, monitor="val_auc"),
    ]
    for event in events:
        back = Event.from_json(event.to_json())
        assert type(back) is type(event)
        assert back.to_json() == event.to_json()
    ended = Event.from_json(events[1].to_json())
    assert ended.logs == {"loss": 0.5, "val_loss": None}
    assert Event.from_json(events[-1].to_json()).monitor == "val_auc"


def test_a_job_started_line_without_a_monitor_reads_as_the_presets_default() -> None:
    """Logs written before JobStarted carried `monitor`: the view then judges "best" by val_loss."""
    line = '{"type": "job_started", "time": 1.0, "job_id": "a", "dataset": "d", "preset": "p", "index": 1, '
    line += '"total": 1, "epochs": 5}'
    assert Event.from_json(line).monitor == "val_loss"


def test_event_log_ignores_a_torn_last_line_and_heals_it(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = EventLog(path)
    sink(Notice("info", "one"))
    sink.close()
    with open(path, "a") as fh:
        fh.write('{"type": "notice", "level": "in')  # writer killed mid-line
    assert [e.message for e in read_events(path)] == ["one"]
    again = EventLog(path)
    again(Notice("info", "two"))
    again.close()
    assert [e.message for e in read_events(path)] == ["one", "two"]


def test_follow_yields_existing_then_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = EventLog(path)
    sink(Notice("info", "before"))
    stop = threading.Event()
    seen: list[str] = []

    def reader() -> None:
        for event in follow(path, stop, poll_s=0.02):
            seen.append(event.message)
            if len(seen) == 2:
                stop.set()

    thread = threading.Thread(target=reader)
    thread.start()
    sink(Notice("info", "after"))
    thread.join(5)
    sink.close()
    assert seen == ["before", "after"]
