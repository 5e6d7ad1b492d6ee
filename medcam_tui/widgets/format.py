"""Small, shared renderings of numbers, durations and statuses."""

from __future__ import annotations

from rich.text import Text

STATUS_STYLES = {
    "queued": "cyan",
    "running": "bold blue",
    "done": "green",
    "failed": "bold red",
    "cancelled": "yellow",
    "skipped": "magenta",
}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
