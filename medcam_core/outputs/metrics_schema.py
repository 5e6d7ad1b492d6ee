"""The schema of `results/metrics.json`, as TypedDicts: the file is plain JSON, these name its keys.

Written in two steps: `evaluate.metrics.evaluate` returns an `Evaluation` (threshold, test figures
with their intervals and how each was computed, bootstrap, validation), and the job adds `job`,
`preset`, `training`, `dataset` and `gradcam` to make the file's `Metrics`. Every figure is of the
test split unless its key says otherwise. A file read back may be older or damaged: readers still
`.get` what they show.

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
    """Intervals at `ci_level`, each computed as `TestMetrics.ci_method` names; None when none can be
    (the AUROC of a one-class split, a proportion of no images). Files written before `precision`
    was added lack that key."""

    auroc: Interval | None
    sensitivity: Interval | None
    specificity: Interval | None
    accuracy: Interval | None
    precision: Interval | None


class CiMethods(TypedDict):
    """How each interval of `ConfidenceIntervals` was computed, in a few words: "Wilson", "Wilson,
    cluster-corrected", "DeLong (Sun & Xu)", "DeLong clustered (Obuchowski)", "exact pairs bound
    (Clopper–Pearson)", "percentile bootstrap over patients", "Wilson (bootstrap was narrower)", …"""

    auroc: str
    sensitivity: str
    specificity: str
    accuracy: str
    precision: str


class TestMetrics(SplitMetrics):
    n: ClassCounts
    patients: int  # distinct patients (images when the dataset has no patient ids)
    ci: ConfidenceIntervals
    ci_method: CiMethods  # absent from files written before analytic intervals (all were bootstrap)
    ci_notes: dict[str, str]  # metric → why its interval is unusual (perfect separation, a floor); often {}


class BootstrapInfo(TypedDict):
    """The patient bootstrap: it gives `test.ci` only with `interval = "bootstrap"`, as `method` says."""

    resamples: int
    unit: str  # "patient" or "image": what is resampled, and what `test.patients` counts
    seed: int
    method: str  # e.g. "percentile bootstrap over patients"; absent from older files


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


class PeakMemory(TypedDict):
    """The most memory the job held (`jobqueue.machine.JobPeaks`), in bytes."""

    process_bytes: int  # peak resident size of the process that ran the job
    over: str  # "job" (the peak was reset as the job started; Linux) or "process" (since it started)
    gpu_bytes: list[int] | None  # TensorFlow's allocator peak per visible GPU; None without a GPU


class _TrainingOptional(TypedDict, total=False):
    peak_memory: PeakMemory  # added by the save stage; absent from files written before it


class TrainingSummary(_TrainingOptional):
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
    ground_truth: str  # present with `layers`: data.ground_truth.Annotation, what the figures were measured on
    note: str  # present with `layers`
    randomised_weights_rank_correlation: float | None  # present with `layers`


class SeedFigures(TypedDict):
    """One seed of a job with `repeats` (plus `best_<monitor>`: its best monitored validation value)."""

    seed: int
    best_epoch: int | None
    threshold: float
    auroc: float | None
    sensitivity: float
    specificity: float
    accuracy: float


class MeanSd(TypedDict):
    mean: float | None
    sd: float | None  # sample SD (n − 1); None with one value


class RepeatsSummary(TypedDict):
    seeds: list[int]
    per_seed: list[SeedFigures]
    spread: dict[str, MeanSd]  # auroc, sensitivity, specificity, accuracy
    saved_seed: int
    saved_because: str


class _MetricsOptional(TypedDict, total=False):
    repeats: RepeatsSummary  # only when the preset trained several seeds


class Metrics(Evaluation, _MetricsOptional):
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


class ExternalThreshold(TypedDict):
    value: float
    source: str  # in words: "validation split of <dataset>", "--threshold", "default 0.5 (no threshold in the file)"


class ExternalMetrics(TypedDict):
    """`results/external/<dataset>/metrics.json`: a model scored on a dataset it never trained on."""

    model: str  # the job id, or the imported model file's path
    imported: bool
    dataset: str
    recipe: str
    path: str
    split: str  # "all" (every image of the dataset) or "test" (its test split only)
    threshold: ExternalThreshold
    test: TestMetrics  # named as a job's own test split, so the same readers show both
    ci_level: float
    bootstrap: BootstrapInfo
    skipped: int  # files of the dataset left out when it was read
    seconds: float
