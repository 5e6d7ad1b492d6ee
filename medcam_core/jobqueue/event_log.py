"""The durable event stream: one JSON line per event in `<output>/events.jsonl`.

Written with a flush per line so another process can follow it live; read tolerantly, because a
writer killed mid-line leaves a torn last line that must never break a reader, and a line that is
not an event (garbage, another version's event) is skipped with a warning in the log, not fatal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from medcam_core.events import Event

EVENT_LOG = "events.jsonl"
log = logging.getLogger("medcam")


class EventLog:
    """A sink: append each event as one line; safe to call from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        if self._fh.tell() > 0 and not self._ends_with_newline():
            self._fh.write("\n")

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, 2)
            return fh.read(1) == b"\n"

    def __call__(self, event: Event) -> None:
        line = event.to_json() + "\n"
        with self._lock:
            if not self._fh.closed:
                self._fh.write(line)
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def parse_line(line: str) -> Event | None:
    """An event, or None for a torn, blank or unknown line, or JSON that is not an object."""
    try:
        return Event.from_json(line)
    except (ValueError, KeyError, TypeError, AttributeError):  # AttributeError: a number, string or null
        return None


def read_events(path: Path) -> list[Event]:
    if not Path(path).is_file():
        return []
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = [line for line in fh if line.endswith("\n")]
    events = [e for e in map(parse_line, lines) if e is not None]
    skipped = sum(bool(line.strip()) for line in lines) - len(events)
    if skipped:
        log.warning("%s: skipped %d line(s) that are not events", path, skipped)
    return events


def follow(path: Path, stop: threading.Event, poll_s: float = 0.2) -> Iterator[Event]:
    """Every event from the start of the log, then new ones as complete lines arrive; a line that is
    not an event is logged and skipped, so following never stops on one."""
    path = Path(path)
    while not path.is_file():
        if stop.wait(poll_s):
            return
    with open(path, encoding="utf-8", errors="replace") as fh:
        pending, number = "", 0
        while not stop.is_set():
            chunk = fh.readline()
            if not chunk:
                stop.wait(poll_s)
                continue
            pending += chunk
            if not pending.endswith("\n"):
                continue
            line, pending, number = pending, "", number + 1
            event = parse_line(line)
            if event is not None:
                yield event
            elif line.strip():
                log.warning("%s line %d skipped: not an event: %.80r", path, number, line)
