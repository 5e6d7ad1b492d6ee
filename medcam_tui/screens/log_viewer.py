"""`L`: medcam.log of the output root, following new lines as the queue writes them, with `/` search.

A thread worker tails the file (never the UI thread: the log can be large, the disk slow) and posts
the new lines; a log that is truncated or replaced starts over, one that does not exist yet is waited
for. Only its last `START_BYTES` are read at first: tracebacks of the last jobs, not a month of runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from rich.highlighter import Highlighter
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Log

from medcam_core.safe_text import printable

START_BYTES = 2_000_000
READ_BYTES = 1_000_000
POLL_S = 0.25


class LogChunk(Message):
    """New lines of the log; `reset`: the file was replaced, truncated or removed, drop what is shown."""

    def __init__(self, lines: list[str] | None = None, reset: bool = False, missing: bool = False) -> None:
        super().__init__()
        self.lines, self.reset, self.missing = lines or [], reset, missing


def tail(path: Path, stop: threading.Event, poll_s: float = POLL_S) -> Iterator[LogChunk]:
    """Whole lines of `path`: its last `START_BYTES` at first, then each line as it is written."""
    position, partial, identity, first, cut = 0, b"", None, True, False
    while not stop.is_set():
        try:
            stat = path.stat()
        except OSError:
            if identity is not None or first:
                yield LogChunk(reset=identity is not None, missing=True)
            identity, partial, first = None, b"", False
            stop.wait(poll_s)
            continue
        if (stat.st_dev, stat.st_ino) != identity or stat.st_size < position:
            if identity is not None:
                yield LogChunk(reset=True)
            position = max(0, stat.st_size - START_BYTES) if first else 0
            identity, partial, first, cut = (stat.st_dev, stat.st_ino), b"", False, position > 0
        data = b""
        if stat.st_size > position:
            with open(path, "rb") as fh:
                fh.seek(position)
                data = fh.read(READ_BYTES)
            position += len(data)
        if cut and data:  # started inside a line: drop its end
            data, cut = data.partition(b"\n")[2], False
        lines = (partial + data).split(b"\n")
        partial = lines.pop()
        if lines:
            yield LogChunk([printable(line.decode("utf-8", "replace").rstrip("\r")) for line in lines])
        if len(data) < READ_BYTES:
            stop.wait(poll_s)


class SearchHighlighter(Highlighter):
    """Marks every occurrence of the search term, in any case."""

    def __init__(self, term: str = "") -> None:
        self.term = term.lower()

    def highlight(self, text: Text) -> None:
        if not self.term:
            return
        plain, start = text.plain.lower(), 0
        while (found := plain.find(self.term, start)) >= 0:
            text.stylize("bold black on yellow", found, found + len(self.term))
            start = found + len(self.term)


class LogViewer(Screen[None]):
    DEFAULT_CSS = """
    LogViewer #log-title { height: 1; padding: 0 1; background: $panel; width: 100%; }
    LogViewer #log-lines { height: 1fr; overflow-x: auto; }
    LogViewer #log-search { display: none; }
    LogViewer #log-search.shown { display: block; }
    LogViewer #log-status { height: 1; padding: 0 1; width: 100%; }
    """
    BINDINGS = [
        Binding("escape,L", "close", "Back", id="log-back", tooltip="Back to the queue"),
        Binding("slash", "search", "Search", id="log-search", key_display="/", tooltip="Search the log (any case)"),
        Binding("n", "next_match(1)", "Next", id="log-next", tooltip="Go to the next match of the search"),
        Binding("N", "next_match(-1)", "Previous", id="log-previous", tooltip="Go to the previous match"),
        Binding("G,end", "follow", "Follow", id="log-follow", key_display="G", tooltip="Jump to the end and follow"),
    ]

    def __init__(self, path: Path, poll_s: float = POLL_S) -> None:
        super().__init__()
        self.path, self.poll_s = path, poll_s
        self.highlighter = SearchHighlighter()
        self.match_line: int | None = None
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        title = Text.assemble((printable(self.path.name), "bold"), " in ", printable(self.path.parent))
        yield Label(title, id="log-title")
        log = Log(highlight=True, id="log-lines")
        log.highlighter = self.highlighter
        yield log
        yield Input(placeholder="search: a word of the log, Enter to find", id="log-search")
        yield Label("following · / search · n/N next/previous · G follow · escape back", id="log-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Log).focus()
        self.follow_file()

    def on_unmount(self) -> None:
        self._stop.set()

    @work(thread=True, exit_on_error=False, name="log-tail", group="log-tail")
    def follow_file(self) -> None:
        for chunk in tail(self.path, self._stop, self.poll_s):
            self.post_message(chunk)

    def on_log_chunk(self, chunk: LogChunk) -> None:
        log = self.query_one(Log)
        if chunk.reset:
            log.clear()
            self.match_line = None
        if chunk.missing:
            self._status(f"no {self.path.name} yet: waiting for it")
        if chunk.lines:
            log.write_lines(chunk.lines)

    @property
    def lines(self) -> list[str]:
        return list(self.query_one(Log).lines)

    def _status(self, text: str) -> None:
        self.query_one("#log-status", Label).update(Text(text))  # it quotes the search term: never markup

    def action_close(self) -> None:
        self.dismiss()

    def action_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.add_class("shown")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.remove_class("shown")
        log = self.query_one(Log)
        log.focus()
        self.highlighter.term = event.value.strip().lower()
        log.notify_style_update()  # drops its rendered lines: they are highlighted again
        log.refresh()
        self.match_line = log.scroll_offset.y - 1
        self.action_next_match(1)

    def matches(self) -> list[int]:
        term = self.highlighter.term
        return [i for i, line in enumerate(self.query_one(Log).lines) if term in line.lower()] if term else []

    def action_next_match(self, step: int) -> None:
        found = self.matches()
        if not found:
            self._status(f"no match for {self.highlighter.term!r}" if self.highlighter.term else "/ to search")
            return
        here = self.match_line if self.match_line is not None else -1
        after = [i for i in found if (i - here) * step > 0]
        line = (after[0] if step > 0 else after[-1]) if after else (found[0] if step > 0 else found[-1])
        self.match_line = line
        log = self.query_one(Log)
        log.auto_scroll = False  # new lines must not pull the view away from the match
        log.scroll_to(y=max(0, line - log.size.height // 3), animate=False)
        wrapped = "" if after else " (wrapped)"
        self._status(
            f"{self.highlighter.term!r}: match {found.index(line) + 1} of {len(found)} at line {line + 1}{wrapped}"
            " · n/N next/previous · G follow"
        )

    def action_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = True
        log.scroll_end(animate=False)
        self._status("following · / search · n/N next/previous · G follow · escape back")
