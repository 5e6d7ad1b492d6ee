"""External validation: a model scored on a dataset it never trained on, at the threshold frozen on
its own validation split — what tells whether it survives another hospital's images.

The figures and intervals are those of a job's own test split (`score_split`); only the images and
the origin of the threshold differ, and `ExternalMetrics` says both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from medcam_core.config import EvaluationSpec
from medcam_core.data.load import LoadedDataset
from medcam_core.data.splits import SPLITS
from medcam_core.errors import DataError
from medcam_core.evaluate.metrics import bootstrap_info, score_split
from medcam_core.outputs.metrics_schema import ExternalMetrics
from medcam_core.vocabulary import TextEnum

EXTERNAL_SPLIT = "external"  # the `split` of every row of an external predictions.csv
BATCH = 32


class EvalSplit(TextEnum):
    """Which images of the other dataset are scored: all of them (none was trained on), or its test split."""

    ALL = "all"
    TEST = "test"


class Scorer(Protocol):
    """A model as external validation needs it: its input size, and P(positive) for decoded images."""

    image_size: int

    def probabilities(self, gray: np.ndarray) -> np.ndarray:
        """(N, S, S) uint8 grayscale → (N,) probabilities of the positive class."""
        ...


@dataclass(frozen=True)
class FrozenThreshold:
    value: float
    source: str  # in words, for the files and the console


def score_dataset(
    scorer: Scorer,
    data: LoadedDataset,
    split: EvalSplit,
    threshold: FrozenThreshold,
    evaluation: EvaluationSpec,
    seed: int,
    model: str,
    imported: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ExternalMetrics, list[dict[str, Any]]]:
    """metrics.json and predictions.csv rows of `data` scored by `scorer`; DataError when nothing is left."""
    start = time.perf_counter()
    parts = [data.splits[name] for name in (SPLITS if split == EvalSplit.ALL else ("test",))]
    total = sum(len(part) for part in parts)
    if total == 0:
        raise DataError(f"dataset {data.spec.name!r}: no readable image to score ({len(data.skipped)} skipped)")
    rows: list[dict[str, Any]] = []
    for part in parts:
        for first in range(0, len(part), BATCH):
            index = np.arange(first, min(first + BATCH, len(part)))
            probs = np.asarray(scorer.probabilities(part.images[index]), dtype=np.float64).reshape(-1)
            rows += [
                {
                    "split": EXTERNAL_SPLIT,
                    "path": part.paths[i],
                    "patient": part.patients[i],
                    "label": int(part.labels[i]),
                    "probability": float(p),
                }
                for i, p in zip(index, probs, strict=True)
            ]
            if progress:
                progress(len(rows), total)
    y = np.array([r["label"] for r in rows])
    p = np.array([r["probability"] for r in rows])
    patients = [r["patient"] for r in rows]
    grouped = patients if len(set(patients)) < len(patients) else None
    metrics = ExternalMetrics(
        model=model,
        imported=imported,
        dataset=data.spec.name,
        recipe=data.spec.recipe,
        path=str(data.spec.path),
        split=str(split),
        threshold={"value": threshold.value, "source": threshold.source},
        test=score_split(y, p, threshold.value, grouped, evaluation, seed),
        ci_level=evaluation.confidence,
        bootstrap=bootstrap_info(evaluation, seed, grouped is not None),
        skipped=len(data.skipped),
        seconds=time.perf_counter() - start,
    )
    return metrics, rows
