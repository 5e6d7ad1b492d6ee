"""Flat DenseNet121 with a binary head, the fine-tuning policy, and the frozen/trainable split.

Flat (`input_tensor=`, head on `base.output`) because a nested backbone breaks Grad-CAM in Keras 3.
The split lets the frozen part run once per dataset: the head model re-uses the same layer objects,
so training it trains the full model, which is what gets saved, evaluated and explained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import keras

from medcam_core.config import Preset
from medcam_core.errors import WeightsUnavailableError
from medcam_core.inference.model_file import open_model
from medcam_core.train.precision import dtype_policy, optimizer
from medcam_core.vocabulary import Precision

NOTOP_FILE = "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"
NOTOP_URL = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/" + NOTOP_FILE
NOTOP_HASH = "4912a53fbd2a69346e7f2c0b5ec8c6d3"
PREDICTION_LAYER = "prediction"


def keras_cache_file() -> Path:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / NOTOP_FILE


def load_saved_model(path: Path) -> keras.Model:
    """The one safe loader (`inference.model_file.open_model`): a `Lambda` layer, a custom class or
    other Python code named in the file is refused before Keras reads it, never executed; any
    refusal or damage becomes one line naming the file."""
    return open_model(path)


def resolve_weights(weights: str, allow_download: bool = True) -> str | None:
    """The value to hand `DenseNet121(weights=...)`; a clear error instead of a URL failure.

    `imagenet` uses the Keras cache file when present, so an offline machine never touches the
    network; otherwise one download is tried and its failure says where to put the file.
    """
    if weights == "none":
        return None
    if weights != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(f"weights file not found: {path}")
        return str(path)
    cached = keras_cache_file()
    if cached.is_file():
        return str(cached)
    how = (
        f"Download {NOTOP_URL} on a machine with internet and copy it to {cached} "
        '(or set weights = "/path/to/that/file.h5" in the preset), or use weights = "none" '
        "to train from random initialisation."
    )
    if not allow_download:
        raise WeightsUnavailableError(f"ImageNet weights for DenseNet121 are not in the Keras cache. {how}")
    try:
        return keras.utils.get_file(NOTOP_FILE, NOTOP_URL, cache_subdir="models", file_hash=NOTOP_HASH)
    except Exception as exc:  # keras raises a bare Exception for URL failures
        raise WeightsUnavailableError(
            f"ImageNet weights for DenseNet121 could not be downloaded ({exc}). {how}"
        ) from None


@dataclass
class BuiltModel:
    model: keras.Model
    first_trainable: str
    trainable_layers: int


def build_model(preset: Preset, weights_path: str | None) -> BuiltModel:
    """Flat DenseNet121 → GAP → Dense → Dropout → Dense(1, sigmoid), seeded, last layers trainable,
    computing in the preset's precision except the last Dense, whose output and loss stay float32."""
    keras.utils.set_random_seed(preset.seed)
    size = preset.image_size
    with dtype_policy(preset.precision):
        inputs = keras.Input((size, size, 3), name="image")
        base = keras.applications.DenseNet121(include_top=False, weights=weights_path, input_tensor=inputs)
        x = keras.layers.GlobalAveragePooling2D(name="gap")(base.output)
        x = keras.layers.Dense(preset.dense_units, activation="relu", name="head_dense")(x)
        x = keras.layers.Dropout(preset.dropout, name="head_dropout")(x)
        out = keras.layers.Dense(1, activation="sigmoid", name=PREDICTION_LAYER, dtype="float32")(x)
        model = keras.Model(inputs, out, name="densenet121_binary")
    first = apply_trainable(model, preset.trainable_layers)
    for layer in model.layers:
        if layer.trainable and isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = preset.bn_momentum
    count = sum(1 for layer in model.layers if layer.trainable)
    return BuiltModel(model, first, count)


def apply_trainable(model: keras.Model, spec: int | str) -> str:
    """Freeze all but the last `spec` layers (or from the layer named `spec`); return the first trained.

    Counting is over the whole model's layers, head included, as the plan's "last 20" was; frozen
    BatchNorm layers then run in inference mode.
    """
    layers = model.layers
    if spec == "all":
        start = 1
    elif isinstance(spec, int):
        start = max(1, len(layers) - spec)
    else:
        names = [layer.name for layer in layers]
        if spec not in names:
            raise ValueError(
                f"trainable_layers = {spec!r} names no layer of the model; examples: {', '.join(names[-30::5])}"
            )
        start = names.index(spec)
    for i, layer in enumerate(layers):
        layer.trainable = i >= start
    return layers[start].name if start < len(layers) else ""


def compile_model(
    model: keras.Model,
    learning_rate: float,
    run_eagerly: bool = False,
    precision: Precision = Precision.FLOAT32,
    jit_compile: bool = False,
) -> None:
    model.compile(
        optimizer=optimizer(learning_rate, precision),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[
            keras.metrics.BinaryAccuracy(name="accuracy"),
            keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"),
            keras.metrics.AUC(name="auc"),
        ],
        run_eagerly=run_eagerly,
        jit_compile=jit_compile and not run_eagerly,
    )


@dataclass
class FrozenSplit:
    frozen: keras.Model
    head: keras.Model
    boundary: str


def split_frozen(model: keras.Model) -> tuple[FrozenSplit | None, str]:
    """Cut the model where frozen layers hand over to trainable ones, when that is one tensor.

    Found from the graph: the boundary is every frozen layer's output consumed by a trainable
    layer. Returns (None, reason) when caching cannot apply (everything trains, several tensors).
    """
    layers = model.layers
    start = next((i for i in range(1, len(layers)) if layers[i].trainable), None)
    if start is None:
        return None, "no layer trains"
    if start == 1:
        return None, "every layer trains, so there is no frozen part to cache"
    frozen_ids = {id(layer) for layer in layers[:start]}
    boundary = {}
    for layer in layers[start:]:
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        for tensor in inputs:
            producer = tensor._keras_history[0]
            if id(producer) in frozen_ids:
                boundary[id(tensor)] = (tensor, producer.name)
    if len(boundary) != 1:
        return None, f"the frozen part hands over {len(boundary)} tensors, not one"
    tensor, name = next(iter(boundary.values()))
    frozen = keras.Model(model.input, tensor, name="frozen_features")
    head = keras.Model(tensor, model.output, name="trainable_head")
    return FrozenSplit(frozen, head, name), f"frozen features cached at '{name}'"
