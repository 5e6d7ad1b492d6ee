"""The queue spec: datasets × presets, loaded from TOML and validated with messages a user can act on.

Every error names the file, the key (`datasets[2].path`) and what was expected; nothing here imports
TensorFlow, so `--help` and config errors stay instant. The per-key rules and their messages are in
`config_rules`; here are the dataclasses, the checks across fields, and loading.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medcam_core.config_rules import (
    AUGMENT_RULES,
    DATASET_RULES,
    EVALUATION_RULES,
    NAME_RE,
    PRESET_RULES,
    QUEUE_RULES,
    UI_RULES,
    NotifyMode,
    checked,
    describe,
    recipe_values,
    weights_file,
)
from medcam_core.errors import ConfigError, MedcamError
from medcam_core.vocabulary import AUTO, Labeler, Precision, Uncertain, View, views_from

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_CONFIG = "medcam.toml"


@dataclass(frozen=True)
class Augment:
    """Random changes to each training image, by Keras preprocessing layers, seeded; 0 leaves one out.

    Validation and test images are never changed: they measure the model, not the augmentation.
    """

    rotation: float = 0.0  # degrees, ±
    shift: float = 0.0  # fraction of the side, ± in both directions
    zoom: float = 0.0  # fraction, ±
    brightness: float = 0.0  # fraction of the 0–255 range, ±
    contrast: float = 0.0  # contrast scaled by a factor in [1 − contrast, 1 + contrast]
    flip: bool = False  # horizontal; off because a chest film has a side

    @property
    def active(self) -> bool:
        return self.flip or any((self.rotation, self.shift, self.zoom, self.brightness, self.contrast))


@dataclass(frozen=True)
class Preset:
    """Training settings shared by every dataset a preset is applied to."""

    name: str
    epochs: int = 10
    image_size: int = 224
    batch_size: int = 16
    learning_rate: float = 1e-4
    trainable_layers: int | str = 20
    patience: int = 5
    monitor: str = "val_loss"
    reduce_lr_factor: float = 0.5
    reduce_lr_patience: int = 3
    min_lr: float = 1e-7
    weights: str = "imagenet"
    dropout: float = 0.5
    dense_units: int = 256
    bn_momentum: float = 0.99
    precise_bn: bool = True
    seed: int = 42
    cache_features: bool = True
    run_eagerly: bool = False
    strategy: str = "default"
    repeats: int = 1  # heads trained with seeds seed … seed+repeats−1 on one feature pass
    augment: Augment = field(default_factory=Augment)
    augment_views: int = 2  # with augment and a cache: copies of each training image (chosen by `benchmarks augment`)
    precision: Precision = Precision.FLOAT32
    jit_compile: bool | str = AUTO  # XLA: true, false, or "auto" (on where a GPU is visible)


BUILTIN_PRESETS: dict[str, Preset] = {
    "standard": Preset(name="standard", epochs=10),
    "intensive": Preset(name="intensive", epochs=15, patience=7),
}


@dataclass(frozen=True)
class DatasetSpec:
    """Where one dataset lives, which recipe reads it, and how its classes map to the binary label."""

    name: str
    path: Path
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    recipe: str = "folder"
    patient_id: str | None = None
    max_per_class: int = 500
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    title: str = ""
    leaks: str = "error"
    table: str = ""
    path_column: str = "path"
    label_column: str = "label"
    patient_column: str = ""
    split_column: str = ""
    body_parts: tuple[str, ...] = ()
    external: tuple[str, ...] = ()  # other datasets of the config every job of this one is validated on
    train: bool = True  # false: an external validation set only, never trained on
    uncertain: Uncertain = Uncertain.IGNORE  # finding-table recipes: what a −1 of a chosen finding becomes
    views: tuple[View, ...] = (View.FRONTAL,)
    labeler: Labeler = Labeler.CHEXPERT  # mimic-cxr-jpg: which label file
    boxes: str = ""  # folder, csv: a table of lesion boxes (path, x, y, width, height), inside the dataset
    masks: str = ""  # folder, csv: a folder of lesion masks mirroring the images' paths, inside the dataset

    @property
    def label(self) -> str:
        return self.title or self.name


@dataclass(frozen=True)
class EvaluationSpec:
    """How the decision threshold is frozen on validation and how uncertainty is estimated.

    `interval`: "analytic" (Wilson for proportions, cluster-corrected when patients repeat; DeLong
    for the AUROC) or "bootstrap" (percentile over patients, `bootstrap` resamples, floored at Wilson).
    """

    threshold: str = "youden"
    target_sensitivity: float = 0.9
    interval: str = "analytic"
    bootstrap: int = 1000
    confidence: float = 0.95


@dataclass(frozen=True)
class UiSpec:
    """The TUI's own settings: they change what the screen does, never what a job computes."""

    notify: NotifyMode = NotifyMode.BELL
    keys: tuple[tuple[str, str], ...] = ()  # [ui.keys]: (binding id, key string), applied with Textual's keymap


@dataclass(frozen=True)
class Job:
    """One cell of the matrix: a dataset trained with a preset."""

    dataset: DatasetSpec
    preset: Preset

    @property
    def id(self) -> str:
        return f"{self.dataset.name}_{self.preset.name}"

    @property
    def folder_name(self) -> str:
        return f"densenet121_{self.dataset.name}_{self.preset.name}_models"


@dataclass(frozen=True)
class QueueConfig:
    datasets: tuple[DatasetSpec, ...]
    presets: dict[str, Preset]
    order: tuple[str, ...] = ("standard", "intensive")
    output: Path = Path("new")
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    source: str = "<built-in>"
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    executor: str = "local"
    parallel: int = 1
    ray_address: str = ""
    cpus_per_job: float = 1.0
    gpus_per_job: float | None = None
    on_job_end: str = ""  # a shell command run after each job; "" runs nothing
    on_job_end_timeout: float = 60.0
    ui: UiSpec = field(default_factory=UiSpec)

    def jobs(self) -> list[Job]:
        """Dataset-major order, as in the plan: both presets of a dataset run back to back."""
        return [Job(d, self.presets[p]) for d in self.datasets if d.train for p in self.order]

    def job_by_id(self, job_id: str) -> Job:
        for job in self.all_jobs():
            if job.id == job_id:
                return job
        raise KeyError(job_id)

    def all_jobs(self) -> list[Job]:
        """Every dataset × every known preset: what `add job` may pick from."""
        return [Job(d, p) for d in self.datasets if d.train for p in self.presets.values()]


# -- cross-field checks ------------------------------------------------------------------------


def check_job_ids(file: str, datasets: tuple[DatasetSpec, ...], presets: dict[str, Preset]) -> None:
    """`a_b` × `c` and `a` × `b_c` would share one id and one folder, and retrain each other forever."""
    seen: dict[str, Job] = {}
    for i, dataset in enumerate(datasets):
        for preset in presets.values():
            job = Job(dataset, preset)
            other = seen.setdefault(job.id, job)
            if other is not job:
                raise ConfigError(
                    file,
                    f"datasets[{i}].name",
                    f"expected names whose jobs differ; dataset {dataset.name!r} × preset {preset.name!r} and "
                    f"dataset {other.dataset.name!r} × preset {other.preset.name!r} both make job {job.id!r} "
                    "(rename a dataset or a preset)",
                )


def check_external(file: str, datasets: tuple[DatasetSpec, ...]) -> None:
    """`external` names other datasets of the same file; a queue must still train something."""
    names = [d.name for d in datasets]
    for i, dataset in enumerate(datasets):
        for j, name in enumerate(dataset.external):
            if name == dataset.name or name not in names:
                others = ", ".join(n for n in names if n != dataset.name) or "none"
                raise ConfigError(
                    file, f"datasets[{i}].external[{j}]", f"expected another dataset's name ({others}), got {name!r}"
                )
    if not any(d.train for d in datasets):
        raise ConfigError(file, "datasets", "expected at least one dataset to train on; every one has train = false")


def check_output_folder(output: Path) -> None:
    """An output root that is (or lies under) a file fails here in one line, not deep in a job."""
    for path in (output, *output.parents):
        if path.exists():
            if not path.is_dir():
                raise MedcamError(f"output {output}: {path} is a file, not a folder; choose another --output")
            return


def check_output_outside_datasets(config: QueueConfig) -> None:
    """An output root inside a dataset folder would train on its own Grad-CAM PNGs."""
    for i, dataset in enumerate(config.datasets):
        if config.output.resolve().is_relative_to(dataset.path.resolve()):
            raise ConfigError(
                config.source,
                "queue.output",
                f"expected a folder outside every dataset; {config.output} is inside datasets[{i}] "
                f"({dataset.name}: {dataset.path})",
            )


# -- loading -----------------------------------------------------------------------------------


def load_config(path: Path | str) -> QueueConfig:
    """Parse and validate a queue file; raise ConfigError with file, key and expectation."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise ConfigError(file, "(file)", "expected an existing TOML file; it was not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(file, "(syntax)", f"expected valid TOML: {exc}") from None
    return parse_config(data, file=file, base=path.parent)


def parse_config(data: dict[str, Any], file: str = "<config>", base: Path = Path(".")) -> QueueConfig:
    known = {"queue", "presets", "datasets", "evaluation", "ui"}
    for key in data:
        if key not in known:
            raise ConfigError(file, key, f"unknown key; expected one of {', '.join(sorted(known))}")

    queue = checked(file, "queue", data.get("queue", {}), QUEUE_RULES)

    presets = dict(BUILTIN_PRESETS)
    raw_presets = data.get("presets", {})
    if not isinstance(raw_presets, dict):
        raise ConfigError(file, "presets", f"expected tables [presets.NAME], got {describe(raw_presets)}")
    for name, table in raw_presets.items():
        if not NAME_RE.match(name):
            raise ConfigError(file, f"presets.{name}", "expected a preset name of letters, digits, '_' or '-'")
        values = checked(file, f"presets.{name}", table, PRESET_RULES)
        if "augment" in values:
            values["augment"] = Augment(**checked(file, f"presets.{name}.augment", values["augment"], AUGMENT_RULES))
        if "precision" in values:
            values["precision"] = Precision(values["precision"])
        if "weights" in values:
            values["weights"] = weights_file(file, f"presets.{name}.weights", values["weights"], base)
        presets[name] = replace(presets.get(name, BUILTIN_PRESETS["standard"]), name=name, **values)

    order = tuple(queue.get("presets", ["standard", "intensive"]))
    for i, name in enumerate(order):
        if name not in presets:
            raise ConfigError(
                file, f"queue.presets[{i}]", f"expected a defined preset ({', '.join(presets)}), got {name!r}"
            )

    raw_datasets = data.get("datasets")
    if not isinstance(raw_datasets, list) or not raw_datasets:
        raise ConfigError(file, "datasets", "expected at least one [[datasets]] table")
    datasets = []
    for i, table in enumerate(raw_datasets):
        values = recipe_values(file, f"datasets[{i}]", checked(file, f"datasets[{i}]", table, DATASET_RULES))
        overlap = set(values.get("positive", ())) & set(values.get("negative", ()))
        if overlap:
            raise ConfigError(
                file, f"datasets[{i}].negative", f"expected no class in both lists, got {sorted(overlap)}"
            )
        values["path"] = (base / Path(values["path"]).expanduser()).resolve()
        for key in ("positive", "negative", "body_parts", "external"):
            values[key] = tuple(values.get(key, ()))
        if "split" in values:
            values["split"] = tuple(float(x) for x in values["split"])
        for key, kind in (("uncertain", Uncertain), ("labeler", Labeler)):
            if key in values:
                values[key] = kind(values[key])
        if "views" in values:
            values["views"] = views_from(values["views"])
        datasets.append(DatasetSpec(**values))
    names = [d.name for d in datasets]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ConfigError(file, f"datasets[{i}].name", f"expected a unique name, {name!r} is used twice")

    check_job_ids(file, tuple(datasets), presets)
    check_external(file, tuple(datasets))

    evaluation = EvaluationSpec(**checked(file, "evaluation", data.get("evaluation", {}), EVALUATION_RULES))
    ui = checked(file, "ui", data.get("ui", {}), UI_RULES)
    output = (base / Path(queue.get("output", "new")).expanduser()).resolve()
    config = QueueConfig(
        datasets=tuple(datasets),
        presets=presets,
        order=order,
        output=output,
        evaluation=evaluation,
        source=file,
        intra_op_threads=queue.get("intra_op_threads", 0),
        inter_op_threads=queue.get("inter_op_threads", 0),
        executor=queue.get("executor", "local"),
        parallel=queue.get("parallel", 1),
        ray_address=queue.get("ray_address", ""),
        cpus_per_job=float(queue.get("cpus_per_job", 1.0)),
        gpus_per_job=float(queue["gpus_per_job"]) if "gpus_per_job" in queue else None,
        on_job_end=queue.get("on_job_end", ""),
        on_job_end_timeout=float(queue.get("on_job_end_timeout", 60.0)),
        ui=UiSpec(NotifyMode(ui.get("notify", NotifyMode.BELL)), tuple(ui.get("keys", {}).items())),
    )
    check_output_folder(output)
    check_output_outside_datasets(config)
    return config
