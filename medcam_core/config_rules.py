"""The rules a queue file's values must meet, each with what a user reads when one does not.

One table per TOML section (`[queue]`, `[presets.NAME]`, `[[datasets]]`, `[evaluation]`, `[ui]`): key →
(check, what was expected). `checked` applies a table; `recipe_values` and `weights_file` are the
checks that need more than one value or the disk. Nothing here knows the config's dataclasses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

from medcam_core.data.recipe_catalog import RECIPE_KEYS, RECIPES
from medcam_core.errors import ConfigError
from medcam_core.vocabulary import AUTO, Labeler, Precision, TextEnum, Uncertain, View

WEIGHTS_EXPECTED = '"imagenet", "none", or the path of a DenseNet121 no-top weights file (.h5)'
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
LEAK_POLICIES = ("error", "drop")
EXECUTORS = ("local", "ray")
MONITORS = ("val_loss", "val_auc", "val_accuracy")
STRATEGIES = ("default", "mirrored")

Check = Callable[[Any], bool]


class NotifyMode(TextEnum):
    """How the TUI tells a user, who may be in another window, that a job failed or the queue finished."""

    BELL = "bell"  # the terminal bell (BEL): tmux and most terminals flag or sound it
    DESKTOP = "desktop"  # a desktop notification through the OSC 9 and OSC 777 escape sequences
    NONE = "none"  # a toast on screen only


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _trainable(v: Any) -> bool:
    return (_is_int(v) and v >= 1) or (isinstance(v, str) and v != "")


def _one_group_regex(v: str) -> bool:
    try:
        return re.compile(v).groups == 1
    except re.error:
        return False


def _one_of(kind: type[Enum]) -> Check:
    return lambda v: isinstance(v, str) and v in {member.value for member in kind}


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
    "repeats": (lambda v: _is_int(v) and 1 <= v <= 20, "an integer from 1 to 20 (seeds trained per job)"),
    "augment": (
        lambda v: isinstance(v, dict),
        "a table [presets.NAME.augment] with rotation, shift, zoom, brightness, contrast, flip",
    ),
    "augment_views": (
        lambda v: _is_int(v) and 0 <= v <= 64,
        "an integer from 0 to 64 (augmented copies of each training image cached; 0: augment live every epoch)",
    ),
    "precision": (_one_of(Precision), f"one of {', '.join(p.value for p in Precision)}"),
    "jit_compile": (lambda v: isinstance(v, bool) or v == AUTO, f'true, false or "{AUTO}" (XLA on GPUs only)'),
    "strategy": (
        lambda v: v in STRATEGIES,
        '"default" (one device) or "mirrored" (one job over every GPU of its machine, batch_size split among them)',
    ),
}


AUGMENT_RULES: dict[str, tuple[Check, str]] = {
    "rotation": (lambda v: _is_num(v) and 0 <= v <= 180, "a number of degrees from 0 to 180 (turned by up to ±that)"),
    "shift": (lambda v: _is_num(v) and 0 <= v <= 0.5, "a fraction of the side from 0 to 0.5 (moved by up to ±that)"),
    "zoom": (lambda v: _is_num(v) and 0 <= v < 1, "a fraction from 0 up to (not including) 1 (zoomed by up to ±that)"),
    "brightness": (lambda v: _is_num(v) and 0 <= v <= 1, "a fraction of the 0–255 range from 0 to 1"),
    "contrast": (lambda v: _is_num(v) and 0 <= v <= 1, "a fraction from 0 to 1 (contrast scaled by 1 ± that)"),
    "flip": (
        lambda v: isinstance(v, bool),
        "true or false (a horizontal flip; off by default because a chest film has a side)",
    ),
}


def _names(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(isinstance(s, str) and s for s in v)


def _views(v: Any) -> bool:
    return _one_of(View)(v) or (_names(v) and all(_one_of(View)(s) for s in v))


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
    "uncertain": (
        _one_of(Uncertain),
        '"ignore" (leave out images uncertain (-1) for the chosen findings), "ones" (count them positive) '
        'or "zeros" (count them negative)',
    ),
    "views": (_views, '"frontal", "lateral", "all", or a list of them, e.g. ["frontal"]'),
    "labeler": (_one_of(Labeler), '"chexpert" or "negbio" (which MIMIC-CXR label file is read)'),
    "external": (
        _names,
        'a list of other datasets\' names, e.g. ["rsna"]: every job trained on this one is validated on them',
    ),
    "train": (lambda v: isinstance(v, bool), "true or false (false: a dataset for external validation only)"),
    "boxes": (
        lambda v: isinstance(v, str) and v != "",
        "a CSV file inside the dataset with columns path, x, y, width, height (lesion boxes in pixels)",
    ),
    "masks": (
        lambda v: isinstance(v, str) and v != "" and not Path(v).is_absolute() and ".." not in Path(v).parts,
        "a folder inside the dataset holding a lesion mask (white = lesion) per image, at the image's path with .png",
    ),
}
DATASET_REQUIRED = ("name", "path")

EVALUATION_RULES: dict[str, tuple[Check, str]] = {
    "threshold": (lambda v: v in ("youden", "sensitivity"), '"youden" or "sensitivity"'),
    "target_sensitivity": (lambda v: _is_num(v) and 0 < v < 1, "a number between 0 and 1"),
    "interval": (
        lambda v: v in ("analytic", "bootstrap"),
        '"analytic" (Wilson, DeLong) or "bootstrap" (percentile over patients)',
    ),
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
    "on_job_end": (
        lambda v: isinstance(v, str),
        "a shell command run after each job (MEDCAM_JOB_ID, MEDCAM_JOB_STATUS, MEDCAM_TEST_AUROC and "
        'MEDCAM_JOB_FOLDER in its environment), or "" for none',
    ),
    "on_job_end_timeout": (
        lambda v: _is_num(v) and 0 < v <= 86_400,
        "a number of seconds from above 0 to 86400: how long on_job_end may run before it is stopped",
    ),
}


def _keymap(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) and x.strip() for k, x in v.items())


UI_RULES: dict[str, tuple[Check, str]] = {
    "keys": (
        _keymap,
        'a table of binding id = "key" (several keys comma-separated), e.g. [ui.keys] pause = "space"; '
        "`?` in the TUI lists the ids",
    ),
    "notify": (
        _one_of(NotifyMode),
        '"bell" (the terminal bell), "desktop" (a desktop notification through the OSC 9/777 escape '
        'sequences) or "none" (a toast only)',
    ),
}


def recipe_values(file: str, prefix: str, values: dict[str, Any]) -> dict[str, Any]:
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


def weights_file(file: str, key: str, value: str, base: Path) -> str:
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


def describe(v: Any) -> str:
    return f"{type(v).__name__} {v!r}"


def checked(file: str, prefix: str, table: Any, rules: dict[str, tuple[Check, str]]) -> dict:
    if not isinstance(table, dict):
        raise ConfigError(file, prefix, f"expected a table, got {describe(table)}")
    out = {}
    for key, value in table.items():
        if key not in rules:
            raise ConfigError(file, f"{prefix}.{key}", f"unknown key; expected one of {', '.join(sorted(rules))}")
        check, expected = rules[key]
        if not check(value):
            raise ConfigError(file, f"{prefix}.{key}", f"expected {expected}, got {describe(value)}")
        out[key] = value
    return out
