"""The words the engine, the screens and the files share: job statuses, job stages, and which value
of a monitored metric is better. `str` enums, so the JSON on disk and in events stays plain text."""

from __future__ import annotations

from enum import Enum


class TextEnum(str, Enum):
    """A `str` enum that prints as its value on every Python version (3.12 changed `format`)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Status(TextEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


RETRYABLE = (Status.FAILED, Status.CANCELLED, Status.SKIPPED)


class Stage(TextEnum):
    """What a job is doing; `features` is a part of `fit`, `start` the refusal of a job started twice."""

    START = "start"
    LOAD = "load"
    BUILD = "build"
    FEATURES = "features"
    FIT = "fit"
    EVALUATE = "evaluate"
    EXPLAIN = "explain"
    SAVE = "save"
    EXTERNAL = "external"


def lower_is_better(monitor: str) -> bool:
    """As Keras' monitor callbacks decide: a loss is minimised, anything else (AUC, accuracy) maximised."""
    return monitor.endswith("loss")


def better(monitor: str, value: float, than: float | None) -> bool:
    """Whether `value` of `monitor` improves on `than` (None: nothing yet, so it does)."""
    if than is None:
        return True
    return value < than if lower_is_better(monitor) else value > than
