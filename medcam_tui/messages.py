"""Messages from the engine's thread to the app: thin wrappers posted with `post_message`."""

from __future__ import annotations

from textual.message import Message

from medcam_core.events import Event
from medcam_core.safe_text import printable_fields

COALESCED = ("batch_progress", "stage_progress")


class EngineEvent(Message):
    """One engine event, its strings made printable (file names from a dataset can hold escape
    sequences); a burst of progress events collapses to the newest still queued."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = printable_fields(event)

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, EngineEvent)
            and self.event.kind in COALESCED
            and message.event.kind == self.event.kind
            and getattr(message.event, "job_id", None) == getattr(self.event, "job_id", None)
        )
