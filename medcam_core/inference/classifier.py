"""A trained binary classifier with what it takes to use it: the image size and preprocessing it
expects, its head, the decision threshold and where that came from, and whose model it is.

A job folder of this tool knows all of it (the preset's size, DenseNet preprocessing, the threshold
chosen on validation); a bare `.keras` / `.h5` file knows only its architecture, so the rest comes
from options and the threshold falls back to 0.5, saying so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from medcam_core.errors import ModelFileError
from medcam_core.inference.graph import Head, HeadKind, UnusableModel, image_input, read_head
from medcam_core.inference.model_file import open_model
from medcam_core.inference.options import DEFAULT_SIZE, Options, Preprocess
from medcam_core.outputs.job_folder import JobFolder

DEFAULT_THRESHOLD = 0.5
SAVED_MODEL = "saved_model.pb"  # what marks a TensorFlow SavedModel folder, which Keras 3 cannot load


class ThresholdSource(Enum):
    JOB = "job validation"
    OPTION = "--threshold"
    DEFAULT = "default"


class Origin(Enum):
    JOB = "a job of this tool"
    IMPORTED = "a model file this tool did not train"


@dataclass(frozen=True)
class Threshold:
    value: float
    source: ThresholdSource

    def describe(self) -> str:
        if self.source is ThresholdSource.JOB:
            return f"job validation threshold {self.value:.3g}"
        if self.source is ThresholdSource.OPTION:
            return f"threshold {self.value:.3g} from --threshold"
        return f"no threshold in a bare model file: {self.value:.3g}; pass --threshold"


@dataclass
class Classifier:
    model: Any  # keras.Model
    image_size: int
    channels: int
    preprocess: Preprocess
    head: Head
    threshold: Threshold
    source: Path
    origin: Origin

    @classmethod
    def open(
        cls,
        path: Path,
        options: Options | None = None,
    ) -> Classifier:
        """A job folder or a model file, told apart by what `path` is; ModelFileError names what is wrong."""
        path = Path(path)
        if path.is_dir():
            if JobFolder(path).model_file.is_file():
                return cls.from_job_folder(path, options)
            saved_model = " (a TensorFlow SavedModel: re-save it as .keras)" if (path / SAVED_MODEL).exists() else ""
            raise ModelFileError(
                f"{path}: a folder, but not a finished job folder (no {JobFolder.MODEL}){saved_model}; "
                "give a job folder or a .keras / .h5 file"
            )
        if not path.exists():
            raise ModelFileError(f"{path}: no such job folder or model file")
        return cls.from_model_file(path, options)

    @classmethod
    def from_job_folder(
        cls,
        folder: Path,
        options: Options | None = None,
    ) -> Classifier:
        """The job's model at the job's image size, with the threshold frozen on its validation split."""
        job = JobFolder(Path(folder))
        try:
            config = json.loads(job.config_file.read_text(encoding="utf-8"))
            metrics = json.loads(job.metrics_file.read_text(encoding="utf-8"))
            job_size, job_threshold = int(config["preset"]["image_size"]), float(metrics["threshold"]["value"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(
                f"{folder} is damaged: {JobFolder.CONFIG} or {JobFolder.METRICS} is missing or unreadable ({exc})"
            ) from None
        chosen = Threshold(job_threshold, ThresholdSource.JOB)
        return cls._build(open_model(job.model_file), job.root, Origin.JOB, chosen, options, job_size)

    @classmethod
    def from_model_file(
        cls,
        path: Path,
        options: Options | None = None,
    ) -> Classifier:
        """A model this tool did not train: nothing in the file says how it was validated."""
        chosen = Threshold(DEFAULT_THRESHOLD, ThresholdSource.DEFAULT)
        return cls._build(open_model(path), Path(path), Origin.IMPORTED, chosen, options, None)

    @classmethod
    def trained(cls, model: Any, folder: Path, image_size: int, threshold: float) -> Classifier:
        """A job's model still in memory (the external stage, before the folder is committed)."""
        chosen = Threshold(threshold, ThresholdSource.JOB)
        return cls._build(model, Path(folder), Origin.JOB, chosen, Options(size=image_size), image_size)

    @classmethod
    def _build(
        cls,
        model: Any,
        source: Path,
        origin: Origin,
        threshold: Threshold,
        options: Options | None,
        known_size: int | None,
    ) -> Classifier:
        """`threshold` is what the source knows (--threshold overrides it); `known_size` the job's image size."""
        options = options or Options()
        if options.threshold is not None:
            if not 0.0 <= options.threshold <= 1.0:
                raise ModelFileError(f"--threshold must be a probability from 0 to 1, got {options.threshold}")
            threshold = Threshold(options.threshold, ThresholdSource.OPTION)
        preprocess, size = options.preprocess, options.size or known_size
        try:
            shape, head = image_input(model), read_head(model, options.positive_index)
        except UnusableModel as exc:
            raise UnusableModel(f"{source}: {exc}") from None
        if shape.size is not None and size is not None and size != shape.size:
            raise UnusableModel(f"{source}: the model takes {shape.size}×{shape.size} images, not {size}×{size}")
        if preprocess is Preprocess.DENSENET and shape.channels != 3:
            raise UnusableModel(
                f"{source}: the model takes {shape.channels}-channel images; densenet preprocessing makes 3 "
                "(pass --preprocess scale or none)"
            )
        side = shape.size or size or DEFAULT_SIZE
        return cls(model, side, shape.channels, preprocess, head, threshold, source, origin)

    def describe(self) -> str:
        """One line for the user: whose model, what it takes, and which threshold decides."""
        head = "Dense(1, sigmoid)" if self.head.kind is HeadKind.SIGMOID else "Dense(2, softmax)"
        return (
            f"{self.source.name}: {self.origin.value}; {head} head, positive class index {self.head.positive_index}; "
            f"{self.image_size}×{self.image_size} px, {self.preprocess.value} preprocessing; "
            f"{self.threshold.describe()}"
        )

    def model_input(self, gray: np.ndarray) -> np.ndarray:
        """(N, S, S) uint8 gray → the float32 (N, S, S, channels) batch the model takes."""
        if self.preprocess is Preprocess.DENSENET:
            from medcam_core.train.input_pipeline import to_model_input

            return np.asarray(to_model_input(gray), dtype=np.float32)
        x = gray.astype(np.float32)[..., np.newaxis]
        if self.channels == 3:
            x = np.repeat(x, 3, axis=-1)
        return x / 255.0 if self.preprocess is Preprocess.SCALE else x

    def probabilities(self, gray: np.ndarray) -> np.ndarray:
        """P(positive) for a batch of (N, S, S) uint8 gray images, as the model's own outputs give it."""
        return self.scores(self.model_input(gray)) if len(gray) else np.zeros(0, np.float32)

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        """P(positive) for a batch already prepared by `model_input`."""
        return self.head.probability(np.asarray(self.model.predict_on_batch(inputs), dtype=np.float32))

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        """1 where P(positive) reaches the threshold, else 0."""
        return (np.asarray(probabilities) >= self.threshold.value).astype(np.int8)
