"""Telling a user who looks elsewhere that a job failed or the queue finished (`[ui] notify`).

A toast on screen always; besides it, one signal written to the terminal through Textual's driver
(the only writer the screen tolerates): the bell (BEL), or a desktop notification as the OSC 9
(iTerm2, WezTerm, Windows Terminal, ConEmu) and OSC 777 (foot, Ghostty, rxvt-unicode, VTE) escape
sequences — a terminal that knows neither ignores both. Inside tmux a desktop notification is
wrapped for passthrough (it needs `set -g allow-passthrough on`); the bell passes on its own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from textual.app import App
from textual.notifications import SeverityLevel

from medcam_core.config_rules import NotifyMode
from medcam_core.safe_text import printable

TITLE = "medcam-tui"
BEL = "\a"
BODY_CHARS = 200


def _plain(text: str) -> str:
    """One line without control characters: a dataset's file name must not end the sequence early."""
    return "".join(ch for ch in printable(text) if ch.isprintable())[:BODY_CHARS]


def terminal_signal(mode: NotifyMode, title: str, body: str, in_tmux: bool = False) -> str:
    """The bytes to write for one notification: BEL, OSC 9 + OSC 777, or nothing."""
    if mode == NotifyMode.BELL:
        return BEL
    if mode != NotifyMode.DESKTOP:
        return ""
    title, body = _plain(title).replace(";", ","), _plain(body)
    # OSC 9 carries one text; ConEmu reads a leading digit as a command, so the title leads
    sequences = [f"\x1b]9;{title}: {body}\a", f"\x1b]777;notify;{title};{body}\a"]
    if in_tmux:
        sequences = ["\x1bPtmux;" + seq.replace("\x1b", "\x1b\x1b") + "\x1b\\" for seq in sequences]
    return "".join(sequences)


class Notifier:
    """A toast plus the configured terminal signal. Events older than the notifier (a log replayed
    by `--attach`) get the toast only: history must not ring."""

    def __init__(self, app: App, mode: NotifyMode, write: Callable[[str], None] | None = None) -> None:
        self.app, self.mode = app, mode
        self.since = time.time()
        self.in_tmux = bool(os.environ.get("TMUX"))
        self._write = write or self._to_driver

    def _to_driver(self, data: str) -> None:
        driver = self.app._driver  # Textual's own `App.bell` writes here too; there is no public writer
        if driver is not None:
            driver.write(data)

    def tell(self, body: str, severity: SeverityLevel, when: float | None = None, signal: bool = True) -> None:
        """Toast `body`; also signal the terminal when asked and the event is not from before we started."""
        self.app.notify(body, severity=severity, timeout=10, markup=False)
        fresh = when is None or when >= self.since - 1.0
        data = terminal_signal(self.mode, TITLE, body, self.in_tmux) if signal and fresh else ""
        if data:
            self._write(data)
