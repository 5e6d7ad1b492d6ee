"""The schema of `results/metrics.json`, as TypedDicts: the file is plain JSON, these name its keys.

Written in two steps: `evaluate.metrics.evaluate` returns an `Evaluation` (threshold, test figures
with their intervals, bootstrap, validation), and the job adds `job`, `preset`, `training`, `dataset`
and `gradcam` to make the file's `Metrics`. Every figure is of the test split unless its key says
otherwise. A file read back may be older or damaged: readers still `.get` what they show.

Key order on disk: job, dataset, preset, threshold, test, ci_level, bootstrap, validation, training,
gradcam. (`dataset` is written first as the dataset's name and then replaced, in place, by the
`DatasetSummary`; the name itself is in `configs/job_config.json`.)
"""

from __future__ import annotations

from typing import TypedDict

Interval = list[float]  # [low, high] at `ci_level`


class ClassCounts(TypedDict):
    positive: int
    negative: int


class ConfusionMatrix(TypedDict):
    tn: int
    fp: int
    fn: int
    tp: int


class ThresholdChoice(TypedDict):
    value: float
    method: str  # "youden" or "sensitivity"
    target_sensitivity: float | None  # only with method "sensitivity"
    chosen_on: str  # always "validation"


class SplitMetrics(TypedDict):
    """Figures of one split at the frozen threshold (`metrics_at`)."""

    accuracy: float
    precision: float
    recall: float
    sensitivity: float
    specificity: float
    f1: float
    auroc: float | None  # None when the split holds one class only
    auprc: float | None
    brier: float | None
    confusion_matrix: ConfusionMatrix


class ConfidenceIntervals(TypedDict):
    """Bootstrap percentile intervals; None when fewer than 10 resamples could compute one."""

    auroc: Interval | None
    sensitivity: Interval | None
    specificity: Interval | None
    accuracy: Interval | None


class TestMetrics(SplitMetrics):
    n: ClassCounts
    patients: int  # distinct patients (images when the dataset has no patient ids)
    ci: ConfidenceIntervals


class BootstrapInfo(TypedDict):
    resamples: int
    unit: str  # "patient" or "image"
    seed: int


class ValidationSummary(TypedDict):
    note: str
    auroc: float | None
    n: ClassCounts


class Evaluation(TypedDict):
    """What `evaluate` returns: the part of metrics.json that scoring the splits decides."""

    threshold: ThresholdChoice
    test: TestMetrics
    ci_level: float
    bootstrap: BootstrapInfo
    validation: ValidationSummary


class TrainingSummary(TypedDict):
    epochs_run: int
    epochs_planned: int
    best_epoch: int | None
    monitor: str
    training_path: str  # "cached-features" or "plain"
    replicas: int
    seconds: float
    first_trainable: str
    trainable_layers: int


class DatasetSummary(TypedDict):
    counts: dict[str, ClassCounts]  # per split: train, val, test
    patients: dict[str, int]  # per split
    skipped: int  # files left out when the dataset was read


class LocalisationFigures(TypedDict):
    """Pointing game and energy-in-mask over the test positives that have a lesion mask."""

    n: int
    pointing_game: float | None
    pointing_game_tolerant: float | None
    energy_in_mask: float | None
    mask_area_share: float | None  # the pointing game's chance level
    tolerant_area_share: float | None


class _GradcamRequired(TypedDict):
    default_layer: str
    target: str
    layers: dict[str, LocalisationFigures]  # only layers with at least one masked image
    examples: int  # example panels written to gradcam/


class GradcamSummary(_GradcamRequired, total=False):
    note: str  # present with `layers`
    randomised_weights_rank_correlation: float | None  # present with `layers`


class Metrics(Evaluation):
    """The whole of `results/metrics.json`."""

    job: str
    dataset: DatasetSummary
    preset: str
    training: TrainingSummary
    gradcam: GradcamSummary


class JobSummary(TypedDict):
    """The few test figures a queue table shows (`summarize`), kept in the progress file per job."""

    accuracy: float | None
    precision: float | None
    recall: float | None
    specificity: float | None
    auroc: float | None
    auroc_ci: Interval | None
    threshold: float
    best_epoch: int | None
