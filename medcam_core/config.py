"""The queue spec: datasets × presets, loaded from TOML and validated with messages a user can act on.

Every error names the file, the key (`datasets[2].path`) and what was expected; nothing here imports
TensorFlow, so `--help` and config errors stay instant.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medcam_core.data.recipe_catalog import RECIPE_KEYS, RECIPES
from medcam_core.errors import ConfigError, MedcamError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_CONFIG = "medcam.toml"
WEIGHTS_EXPECTED = '"imagenet", "none", or the path of a DenseNet121 no-top weights file (.h5)'
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
LEAK_POLICIES = ("error", "drop")
EXECUTORS = ("local", "ray")
MONITORS = ("val_loss", "val_auc", "val_accuracy")
STRATEGIES = ("default", "mirrored")


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

    @property
    def label(self) -> str:
        return self.title or self.name


@dataclass(frozen=True)
class EvaluationSpec:
    """How the decision threshold is frozen on validation and how uncertainty is estimated."""

    threshold: str = "youden"
    target_sensitivity: float = 0.9
    bootstrap: int = 1000
    confidence: float = 0.95


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

    def jobs(self) -> list[Job]:
        """Dataset-major order, as in the plan: both presets of a dataset run back to back."""
        return [Job(d, self.presets[p]) for d in self.datasets for p in self.order]

    def job_by_id(self, job_id: str) -> Job:
        for job in self.all_jobs():
            if job.id == job_id:
                return job
        raise KeyError(job_id)

    def all_jobs(self) -> list[Job]:
        """Every dataset × every known preset: what `add job` may pick from."""
        return [Job(d, p) for d in self.datasets for p in self.presets.values()]


# -- validation helpers ------------------------------------------------------------------------

Check = Callable[[Any], bool]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _trainable(v: Any) -> bool:
    return (_is_int(v) and v >= 1) or (isinstance(v, str) and v != "")


PRESET_RULES: dict[str, tuple[Check, str]] = {
    "epochs": (lambda v: _is_int(v) and 1 <= v <= 10_000, "an integer from 1 to 10000"),
    "image_size": (lambda v: _is_int(v) and 32 <= v <= 1024, "an integer from 32 to 1024 (pixels)"),
    "batch_size": (lambda v: _is_int(v) and 1 <= v <= 4096, "an integer from 1 to 4096"),
    "learning_rate": (lambda v: _is_num(v) and 0 < v < 1, "a number between 0 and 1, e.g. 1e-4"),
    "trainable_layers": (
        _trainable,
        'a count of layers from the end (e.g. 20), "all", or the name of the first layer to train',
    ),
    "patience": (lambda v: _is_int(v) and v >= 0, "an integer ≥ 0 (epochs without improvement)"),
    "monitor": (lambda v: v in MONITORS, f"one of {', '.join(MONITORS)}"),
    "reduce_lr_factor": (lambda v: _is_num(v) and 0 < v < 1, "a number between 0 and 1"),
    "reduce_lr_patience": (lambda v: _is_int(v) and v >= 0, "an integer ≥ 0"),
    "min_lr": (lambda v: _is_num(v) and v >= 0, "a number ≥ 0"),
    "weights": (lambda v: isinstance(v, str) and v != "", WEIGHTS_EXPECTED),
    "dropout": (lambda v: _is_num(v) and 0 <= v < 1, "a number from 0 up to (not including) 1"),
    "dense_units": (lambda v: _is_int(v) and v >= 1, "an integer ≥ 1"),
    "bn_momentum": (lambda v: _is_num(v) and 0 < v < 1, "a number between 0 and 1 (Keras' default is 0.99)"),
    "seed": (lambda v: _is_int(v) and 0 <= v < 2**32, "an integer from 0 to 4294967295"),
    "cache_features": (lambda v: isinstance(v, bool), "true or false"),
    "precise_bn": (lambda v: isinstance(v, bool), "true or false"),
    "run_eagerly": (lambda v: isinstance(v, bool), "true or false"),
    "strategy": (
        lambda v: v in STRATEGIES,
        '"default" (one device) or "mirrored" (one job over every GPU of its machine, batch_size split among them)',
    ),
}


def _names(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(isinstance(s, str) and s for s in v)


_str_list = (_names, 'a non-empty list of class names (folders, findings or label values), e.g. ["PNEUMONIA"]')
_column = (lambda v: isinstance(v, str) and v != "", "a column name of the CSV header")

DATASET_RULES: dict[str, tuple[Check, str]] = {
    "name": (
        lambda v: isinstance(v, str) and bool(NAME_RE.match(v)),
        "a short name of letters, digits, '_' or '-' (it becomes part of folder names)",
    ),
    "path": (lambda v: isinstance(v, str) and v != "", "the path of the dataset folder"),
    "positive": _str_list,
    "negative": _str_list,
    "recipe": (lambda v: v in RECIPES, f"one of {', '.join(RECIPES)}"),
    "patient_id": (
        lambda v: isinstance(v, str) and _one_group_regex(v),
        "a regular expression with one group that captures the patient id from a file name",
    ),
    "max_per_class": (lambda v: _is_int(v) and v >= 2, "an integer ≥ 2"),
    "split": (
        lambda v: (
            isinstance(v, list) and len(v) == 3 and all(_is_num(x) and 0 < x < 1 for x in v) and abs(sum(v) - 1) < 1e-6
        ),
        "three fractions train/val/test that add up to 1, e.g. [0.7, 0.15, 0.15]",
    ),
    "title": (lambda v: isinstance(v, str), "a string"),
    "leaks": (
        lambda v: v in LEAK_POLICIES,
        '"error" (refuse a patient or image on both sides of a split) or "drop" (drop it from train/val)',
    ),
    "table": (lambda v: isinstance(v, str) and v != "", "the CSV file, relative to the dataset path"),
    "path_column": _column,
    "label_column": _column,
    "patient_column": _column,
    "split_column": _column,
    "body_parts": (_names, 'a non-empty list of MURA body parts, e.g. ["forearm", "humerus"]'),
}
DATASET_REQUIRED = ("name", "path")

EVALUATION_RULES: dict[str, tuple[Check, str]] = {
    "threshold": (lambda v: v in ("youden", "sensitivity"), '"youden" or "sensitivity"'),
    "target_sensitivity": (lambda v: _is_num(v) and 0 < v < 1, "a number between 0 and 1"),
    "bootstrap": (lambda v: _is_int(v) and 0 <= v <= 100_000, "an integer from 0 to 100000"),
    "confidence": (lambda v: _is_num(v) and 0.5 <= v < 1, "a number from 0.5 up to 1, e.g. 0.95"),
}

QUEUE_RULES: dict[str, tuple[Check, str]] = {
    "output": (lambda v: isinstance(v, str) and v != "", "the output folder path"),
    "presets": (
        lambda v: isinstance(v, list) and len(v) > 0 and all(isinstance(s, str) for s in v),
        "a non-empty list of preset names",
    ),
    "intra_op_threads": (
        lambda v: _is_int(v) and 0 <= v <= 1024,
        "an integer ≥ 0: threads inside one TensorFlow op (0 = every core)",
    ),
    "inter_op_threads": (
        lambda v: _is_int(v) and 0 <= v <= 1024,
        "an integer ≥ 0: TensorFlow ops run at once (0 = TensorFlow's choice)",
    ),
    "executor": (lambda v: v in EXECUTORS, '"local" (this machine) or "ray" (a Ray instance or cluster)'),
    "parallel": (lambda v: _is_int(v) and 1 <= v <= 1024, "an integer ≥ 1: jobs run at once"),
    "ray_address": (lambda v: isinstance(v, str), 'a Ray address such as "head:6379", or "" for a local instance'),
    "cpus_per_job": (lambda v: _is_num(v) and v > 0, "a number > 0: CPUs each Ray task asks for"),
    "gpus_per_job": (lambda v: _is_num(v) and v >= 0, "a number ≥ 0: GPUs each Ray task asks for (default 1 if any)"),
}


def _recipe_values(file: str, prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """Fill the recipe's defaults, and refuse keys the recipe would silently ignore.

    A `positive` of the user's own drops the default `negative`: every other class is then negative.
    """
    name = values.get("recipe", "folder")
    info = RECIPES[name]
    for key in values:
        if key in RECIPE_KEYS and key not in info.options:
            used = ", ".join(sorted(info.options)) or "none"
            raise ConfigError(file, f"{prefix}.{key}", f"not used by recipe {name!r} (it reads: {used})")
    defaults = dict(info.defaults)
    if "positive" in values:
        defaults.pop("negative", None)
    values = {**defaults, **values}
    for key in (*DATASET_REQUIRED, *info.required):
        if key not in values:
            raise ConfigError(file, f"{prefix}.{key}", f"missing; expected {DATASET_RULES[key][1]}")
    return values


def _weights_file(file: str, key: str, value: str, base: Path) -> str:
    """A weights path must be an HDF5 file now, not a failed build after the queue started."""
    if value in ("imagenet", "none"):
        return value
    path = (base / Path(value).expanduser()).resolve()
    try:
        with open(path, "rb") as fh:
            is_hdf5 = path.suffix == ".h5" and fh.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    except OSError as exc:
        raise ConfigError(file, key, f"expected {WEIGHTS_EXPECTED}; cannot read {value!r}: {exc.strerror}") from None
    if not is_hdf5:
        raise ConfigError(file, key, f"expected {WEIGHTS_EXPECTED}; {value!r} is not an HDF5 .h5 file")
    return str(path)


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


def _one_group_regex(v: str) -> bool:
    try:
        return re.compile(v).groups == 1
    except re.error:
        return False


def _describe(v: Any) -> str:
    return f"{type(v).__name__} {v!r}"


def _checked(file: str, prefix: str, table: Any, rules: dict[str, tuple[Check, str]]) -> dict:
    if not isinstance(table, dict):
        raise ConfigError(file, prefix, f"expected a table, got {_describe(table)}")
    out = {}
    for key, value in table.items():
        if key not in rules:
            raise ConfigError(file, f"{prefix}.{key}", f"unknown key; expected one of {', '.join(sorted(rules))}")
        check, expected = rules[key]
        if not check(value):
            raise ConfigError(file, f"{prefix}.{key}", f"expected {expected}, got {_describe(value)}")
        out[key] = value
    return out


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
    known = {"queue", "presets", "datasets", "evaluation"}
    for key in data:
        if key not in known:
            raise ConfigError(file, key, f"unknown key; expected one of {', '.join(sorted(known))}")

    queue = _checked(file, "queue", data.get("queue", {}), QUEUE_RULES)

    presets = dict(BUILTIN_PRESETS)
    raw_presets = data.get("presets", {})
    if not isinstance(raw_presets, dict):
        raise ConfigError(file, "presets", f"expected tables [presets.NAME], got {_describe(raw_presets)}")
    for name, table in raw_presets.items():
        if not NAME_RE.match(name):
            raise ConfigError(file, f"presets.{name}", "expected a preset name of letters, digits, '_' or '-'")
        values = _checked(file, f"presets.{name}", table, PRESET_RULES)
        if "weights" in values:
            values["weights"] = _weights_file(file, f"presets.{name}.weights", values["weights"], base)
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
        values = _recipe_values(file, f"datasets[{i}]", _checked(file, f"datasets[{i}]", table, DATASET_RULES))
        overlap = set(values.get("positive", ())) & set(values.get("negative", ()))
        if overlap:
            raise ConfigError(
                file, f"datasets[{i}].negative", f"expected no class in both lists, got {sorted(overlap)}"
            )
        values["path"] = (base / Path(values["path"]).expanduser()).resolve()
        for key in ("positive", "negative", "body_parts"):
            values[key] = tuple(values.get(key, ()))
        if "split" in values:
            values["split"] = tuple(float(x) for x in values["split"])
        datasets.append(DatasetSpec(**values))
    names = [d.name for d in datasets]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ConfigError(file, f"datasets[{i}].name", f"expected a unique name, {name!r} is used twice")

    check_job_ids(file, tuple(datasets), presets)

    evaluation = EvaluationSpec(**_checked(file, "evaluation", data.get("evaluation", {}), EVALUATION_RULES))
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
    )
    check_output_folder(output)
    check_output_outside_datasets(config)
    return config
