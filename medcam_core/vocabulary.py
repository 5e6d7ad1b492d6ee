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


class Precision(TextEnum):
    """The dtype policy a job's model computes in. The mixed ones keep variables, the final Dense and
    the loss in float32; float16 also needs loss scaling, bfloat16 (float32's range) does not."""

    FLOAT32 = "float32"
    MIXED_FLOAT16 = "mixed_float16"
    MIXED_BFLOAT16 = "mixed_bfloat16"


AUTO = "auto"  # jit_compile = "auto": XLA where a GPU is visible, not on CPU (measured slower there)


def lower_is_better(monitor: str) -> bool:
    """As Keras' monitor callbacks decide: a loss is minimised, anything else (AUC, accuracy) maximised."""
    return monitor.endswith("loss")


def better(monitor: str, value: float, than: float | None) -> bool:
    """Whether `value` of `monitor` improves on `than` (None: nothing yet, so it does)."""
    if than is None:
        return True
    return value < than if lower_is_better(monitor) else value > than


class Uncertain(TextEnum):
    """What a CheXpert-style −1 (uncertain) label of a chosen finding becomes: a stated choice, as
    U-Ignore, U-Ones and U-Zeros change results per finding."""

    IGNORE = "ignore"  # the image is left out
    ONES = "ones"  # counted positive
    ZEROS = "zeros"  # counted as if not mentioned


class View(TextEnum):
    """Which projections a chest X-ray recipe keeps; ALL keeps every image, whatever its view says."""

    FRONTAL = "frontal"
    LATERAL = "lateral"
    ALL = "all"


def views_from(value: str | list[str]) -> tuple[View, ...]:
    """`"frontal"`, `["frontal", "lateral"]` or `"all"` as the views kept, in a fixed order; ALL absorbs the rest."""
    chosen = {View(v) for v in ([value] if isinstance(value, str) else value)}
    return (View.ALL,) if View.ALL in chosen else tuple(v for v in View if v in chosen)


class Labeler(TextEnum):
    """Which of MIMIC-CXR's two label files a recipe reads: the CheXpert labeler's or NegBio's."""

    CHEXPERT = "chexpert"
    NEGBIO = "negbio"
