"""Open a `.keras` or `.h5` model without running anything it holds, or say in one line why not.

Keras' safe mode refuses a `Lambda` layer holding a Python lambda, in both formats (checked with
Keras 3.15: its legacy HDF5 loader enters safe mode too; a test keeps checking). It does not refuse
every other way a config can name code — a class registered by whoever imported it first, a module
to import. So the model's config is read first, as plain JSON, and every object it names must be a
Keras built-in other than a `Lambda`; only then does Keras build the model, in safe mode and
uncompiled (a training config may name custom losses, and predicting needs none of it).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from medcam_core.errors import ModelFileError

KERAS_SUFFIXES = (".keras",)
ARCHIVE_WEIGHTS = "model.weights.h5"  # the weights member of a `.keras` archive
H5_SUFFIXES = (".h5", ".hdf5")
MODEL_SUFFIXES = KERAS_SUFFIXES + H5_SUFFIXES
CODE_CLASSES = ("Lambda", "TFOpLambda", "SlicingOpLambda", "__lambda__")  # Python code, never run
DATA_MARKERS = ("__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__")
MODEL_CLASSES = ("Functional", "Sequential", "Model")
BUILTIN_NAMESPACES = (
    "layers",
    "initializers",
    "regularizers",
    "constraints",
    "dtype_policies",
    "optimizers",
    "losses",
    "metrics",
)
FUNCTION_NAMESPACES = ("activations", "losses", "metrics")


class UnsafeModel(ModelFileError):
    """The file names code (a Lambda, a custom class, a module to import): refused before Keras reads it."""


def open_model(path: Path) -> Any:
    """The Keras model in `path`, after its config passed `check_config`; ModelFileError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ModelFileError(f"{path}: expected a .keras or .h5 model file, got {suffix or 'no suffix'}")
    config = read_keras_config(path) if suffix in KERAS_SUFFIXES else read_h5_config(path)
    problem = check_config(config)
    if problem:
        raise UnsafeModel(f"{path}: cannot be loaded safely: {problem}; nothing in it was run")
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises ValueError, TypeError, OSError, KeyError… for damaged files
        text = str(exc).strip()
        reason = text.split(". ")[0].splitlines()[0] if text else type(exc).__name__
        raise ModelFileError(f"{path}: cannot be loaded safely: {reason}") from exc


def read_keras_config(path: Path) -> dict[str, Any]:
    """config.json of a `.keras` archive, less the compile config (the model is loaded uncompiled)."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(f"{path}: not a .keras archive ({exc})") from None
    except KeyError:
        raise ModelFileError(f"{path}: not a Keras model archive (no config.json inside)") from None
    except ValueError as exc:
        raise ModelFileError(f"{path}: config.json is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: config.json does not describe a model")
    config.pop("compile_config", None)
    return config


def extract_weights(archive: Path, target: Path) -> None:
    """The weights file of a `.keras` archive, copied out of it: the bytes `save_weights` would write
    (the archive holds a weights file of the same format), without a second ~1 s walk over the layers."""
    with zipfile.ZipFile(archive) as zipped, zipped.open(ARCHIVE_WEIGHTS) as member, open(target, "wb") as out:
        shutil.copyfileobj(member, out)


def read_h5_config(path: Path) -> dict[str, Any]:
    """The `model_config` attribute of a legacy HDF5 model (the training config is never read)."""
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            raw = fh.attrs.get("model_config")
    except OSError as exc:
        raise ModelFileError(f"{path}: not an HDF5 file ({exc})") from None
    if raw is None:
        raise ModelFileError(f"{path}: holds weights only, no model (load them into the architecture they came from)")
    try:
        config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: its model_config is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: its model_config does not describe a model")
    return config


def check_config(config: dict[str, Any]) -> str | None:
    """Why this model config cannot be built without running foreign code, or None when it can."""
    for entry in _objects(config):
        problem = _problem(entry)
        if problem:
            return problem
    return None


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every serialised object (a dict with a `class_name`) anywhere in a config."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "class_name" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _problem(entry: dict[str, Any]) -> str | None:
    name, module, registered = entry.get("class_name"), entry.get("module"), entry.get("registered_name")
    if not isinstance(name, str):
        return f"an object whose class_name is {name!r}"
    if name in CODE_CLASSES:
        layer = (entry.get("config") or {}).get("name") if isinstance(entry.get("config"), dict) else None
        where = f" {layer!r}" if layer else ""
        return f"a Lambda layer{where} holds Python code"
    if name in DATA_MARKERS:
        return None
    if name == "function":  # whatever module it claims: only an activation, loss or metric by name
        function = entry.get("config")
        keras_side = module in (None, "builtins") or _is_keras_module(module)
        if keras_side and isinstance(function, str) and _is_keras_function(function):
            return None
        return f"function {function!r} ({module}) is not a Keras activation, loss or metric"
    if registered not in (None, name) or (module is not None and not _is_keras_module(module)):
        return f"custom class {name!r} ({registered or module}) is not part of Keras"
    if not _is_keras_class(name):  # a `keras.*` module is no licence: any other class could be a loader
        return f"unknown class {name!r}, not a Keras built-in"
    return None


def _is_keras_module(module: object) -> bool:
    return isinstance(module, str) and (module == "keras" or module.startswith("keras."))


@cache
def _is_keras_class(name: str) -> bool:
    """A built-in Keras layer, initializer, regularizer, constraint, dtype policy or model class."""
    import keras

    if name in MODEL_CLASSES:
        return True
    return any(isinstance(getattr(getattr(keras, space), name, None), type) for space in BUILTIN_NAMESPACES)


@cache
def _is_keras_function(name: str) -> bool:
    import keras

    return any(callable(getattr(getattr(keras, space), name, None)) for space in FUNCTION_NAMESPACES)
