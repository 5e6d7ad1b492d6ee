"""What a user can say about a model on the command line; light enough for the CLI to import."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

DEFAULT_SIZE = 224  # for a model that takes any size, unless --size says otherwise


class Preprocess(Enum):
    """How 8-bit gray pixels become the model's input."""

    DENSENET = "densenet"  # ImageNet mean/std (keras.applications.densenet.preprocess_input): how jobs train
    SCALE = "scale"  # pixel / 255, in [0, 1]
    NONE = "none"  # pixel values 0–255 as floats


@dataclass(frozen=True)
class Options:
    """Overrides for a job of this tool; for a bare model file, the only source besides the file."""

    threshold: float | None = None  # None: the job's validation threshold, or 0.5 for a bare file
    preprocess: Preprocess = Preprocess.DENSENET
    positive_index: int = 1  # the positive class's output of a Dense(2, softmax) head
    size: int | None = None  # for a model that takes any size (DEFAULT_SIZE when None)
