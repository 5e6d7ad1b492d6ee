"""Fit one job: on cached frozen features when the graph allows, on images otherwise.

Both paths compile the same metrics, use the same callbacks and class weights, and leave the full
model holding the trained (best) weights; only what each epoch recomputes differs.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from medcam_core.config import Augment, Preset
from medcam_core.data.load import LoadedDataset
from medcam_core.data.scratch import RecordFile
from medcam_core.errors import TrainingDiverged
from medcam_core.events import Event, Notice
from medcam_core.jobqueue.control import QueueControl
from medcam_core.outputs.job_folder import JobFolder
from medcam_core.train.augment import augmenter, view_seed
from medcam_core.train.callbacks import EventCallback, StopRequested
from medcam_core.train.input_pipeline import even_batch, image_batches, tensor_batches
from medcam_core.train.model import FrozenSplit, compile_model
from medcam_core.train.precision import xla
from medcam_core.train.strategy import replicas
from medcam_core.vocabulary import better, lower_is_better


@dataclass
class Features:
    """Frozen-part outputs for each split of one dataset (scratch records on disk), shared by its presets."""

    key: tuple
    by_split: dict[str, RecordFile]
    views: int = 1  # versions of each training image: >1 when augmented views were cached


BACKUP_WEIGHTS = ("latest.weights.h5", "latest.weights.h5.bkp")  # Keras BackupAndRestore's files


def _readable_hdf5(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False


def drop_unreadable_backup(backup: Path) -> str | None:
    """A training backup with no readable weights file (a kill -9 during its first write) is removed, so
    the job trains from its first epoch instead of failing; a message says so. Keras itself falls
    back to the previous copy when only the latest one is torn."""
    files = [backup / name for name in BACKUP_WEIGHTS if (backup / name).is_file()]
    if not files or any(_readable_hdf5(f) for f in files):
        return None
    shutil.rmtree(backup, ignore_errors=True)
    return "its training backup was unreadable (interrupted while written); training starts from the first epoch"


@dataclass
class FitResult:
    history: dict[str, list[float | None]]
    best_epoch: int | None
    epochs_run: int
    stopped: tuple[str, str] | None


def compute_features(
    split: FrozenSplit,
    data: LoadedDataset,
    batch_size: int,
    key: tuple,
    progress: Callable[[int, int], None],
    should_stop: Callable[[], bool],
    eager: bool = False,
    scratch: Path | None = None,
    augment: Augment | None = None,
    views: int = 1,
    seed: int = 0,
    jit: bool = False,
) -> Features | None:
    """One forward pass of the frozen part over every image; None when a stop was requested.

    With `augment`, the training split is passed `views` times, each through its own augmentation
    (seeded from `seed` and the view), and the records hold every view (an epoch then draws one per
    image); validation and test images are passed once, unchanged. Traced once (a graph lets
    TensorFlow fuse conv/BN/ReLU); `eager` skips the tracing, which only pays off for a handful of
    tiny batches. Each batch's output goes straight to scratch records.
    """

    def forward(x: tf.Tensor) -> tf.Tensor:
        return split.frozen(x, training=False)

    signature = [tf.TensorSpec((None, *split.frozen.input_shape[1:]), tf.float32)]  # partial batches: no retrace
    run = forward if eager else tf.function(forward, input_signature=signature, jit_compile=jit)
    train_views = views if augment is not None else 1
    total = sum(len(s) for s in data.splits.values()) + (train_views - 1) * len(data.splits["train"])
    done = 0
    shape = tuple(int(d) for d in split.frozen.output_shape[1:])
    out: dict[str, RecordFile] = {}
    for name, s in data.splits.items():
        copies = train_views if name == "train" else 1
        out[name] = records = RecordFile(copies * len(s), shape, "float32", scratch)
        for view in range(copies):
            layers = augmenter(augment, view_seed(seed, view)) if augment is not None and name == "train" else None
            start = view * len(s)
            for images in image_batches(s.images, None, batch_size, shuffle=False, seed=0, augment=layers):
                if should_stop():
                    return None
                records.write(start, run(images).numpy())
                start += int(images.shape[0])
                done += int(images.shape[0])
                progress(done, total)
    return Features(key, out, train_views)


def fit(
    job_id: str,
    preset: Preset,
    model: keras.Model,
    data: LoadedDataset,
    features: Features | None,
    split: FrozenSplit | None,
    work: JobFolder,
    emit: Callable[[Event], None],
    control: QueueControl,
    throttle_s: float = 0.1,
) -> FitResult:
    """Train with early stopping (best weights restored), LR schedule, checkpoint, CSV log, events.

    `work` is the job's work folder: the checkpoint, the CSV log and Keras' backup go where it says.
    """
    train, val = data.splits["train"], data.splits["val"]
    size, seed, devices = preset.batch_size, preset.seed, replicas()
    if features is not None and split is not None:
        fit_model = split.head
        train_ds = tensor_batches(features.by_split["train"], train.labels, size, True, seed, devices, features.views)
        val_ds = tensor_batches(features.by_split["val"], val.labels, size, False, seed, devices)
    else:
        fit_model = model
        live = augmenter(preset.augment, seed) if preset.augment.active else None
        train_ds = image_batches(train.images, train.labels, size, True, seed, devices, live)
        val_ds = image_batches(val.images, val.labels, size, False, seed, devices)
    compile_model(fit_model, preset.learning_rate, preset.run_eagerly, preset.precision, xla(preset.jit_compile))
    damaged = drop_unreadable_backup(work.backup_dir)
    if damaged:
        emit(Notice("warning", f"{job_id}: {damaged}", job_id))
    work.models_dir.mkdir(parents=True, exist_ok=True)
    work.results_dir.mkdir(parents=True, exist_ok=True)
    mode = "min" if lower_is_better(preset.monitor) else "max"
    events = EventCallback(job_id, emit, control, even_batch(size, devices), throttle_s)
    stopper = keras.callbacks.EarlyStopping(
        monitor=preset.monitor, mode=mode, patience=preset.patience, restore_best_weights=True
    )
    callbacks = [
        # double_checkpoint keeps the previous epoch's copy: a kill -9 mid-write leaves one readable file
        keras.callbacks.BackupAndRestore(str(work.backup_dir), delete_checkpoint=False, double_checkpoint=True),
        keras.callbacks.TerminateOnNaN(),
        stopper,
        keras.callbacks.ReduceLROnPlateau(
            monitor=preset.monitor,
            mode=mode,
            factor=preset.reduce_lr_factor,
            patience=preset.reduce_lr_patience,
            min_lr=preset.min_lr,
        ),
        keras.callbacks.CSVLogger(str(work.history_csv_file), append=True),
        events,
    ]
    try:
        history = fit_model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=preset.epochs,
            class_weight=data.class_weight(),
            callbacks=callbacks,
            shuffle=False,  # the tf.data pipeline shuffles the training split itself
            verbose=0,
        )
    except StopRequested as stop:
        return FitResult(read_history(work.history_csv_file), None, 0, (stop.status, stop.reason))
    logs = read_history(work.history_csv_file) or {k: [_clean(v) for v in vals] for k, vals in history.history.items()}
    losses = [v if v is not None else float("nan") for v in logs.get("loss", [])]
    if any(not math.isfinite(float(v)) for v in losses):
        raise TrainingDiverged(f"the training loss became NaN/inf at epoch {len(losses)}")
    best = _best_epoch(logs.get(preset.monitor, []), preset.monitor)
    write_checkpoint(model, work.checkpoint_file, work.staged_checkpoint_file)
    if preset.precise_bn:
        inputs = train_ds.map(lambda x, y: x)
        recalibrate_batchnorm(fit_model, inputs)
    return FitResult(logs, best, len(losses), None)


def write_checkpoint(model: keras.Model, final: Path, staging: Path) -> None:
    """The full model's weights at the best epoch (EarlyStopping has just restored them), written once.

    Once, not at every improved epoch as ModelCheckpoint would: each write walks DenseNet's ~600
    layers (~1 s) and nothing reads it back mid-training (a resumed job restores Keras' backup).
    Written to `staging`, then renamed over `final`: a kill mid-write leaves no torn file.
    """
    staging.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(staging)
    os.replace(staging, final)


def recalibrate_batchnorm(model: keras.Model, inputs: tf.data.Dataset) -> int:
    """Set every trainable BatchNorm's moving statistics to exact averages over `inputs` ("precise BN").

    During training those layers normalise with batch statistics while their moving averages lag
    behind the changing weights; evaluated with lagging averages a model can rank well yet output
    nearly flat probabilities. The moving value becomes the plain mean of the batch statistics (Wu &
    Johnson, "Rethinking Batch in BatchNorm", 2021): with momentum 0 each traced pass leaves one
    batch's statistics in the layers, and they are summed here (eager passes cost ~3 s a job at 224 px).
    """
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    moving = [v for layer in layers for v in (layer.moving_mean, layer.moving_variance)]

    def batch_statistics(batch: tf.Tensor) -> list[tf.Tensor]:
        model(batch, training=True)
        return [tf.identity(v) for v in moving]

    try:
        for layer in layers:
            layer.momentum = 0.0
        step = tf.function(batch_statistics, reduce_retracing=True)
        sums, batches = [np.zeros(v.shape, np.float64) for v in moving], 0
        for batch in inputs:
            for total, value in zip(sums, step(batch), strict=True):
                total += value.numpy()
            batches += 1
        if batches:
            for variable, total in zip(moving, sums, strict=True):
                variable.assign((total / batches).astype(variable.dtype))
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return len(layers)


def predict(
    model: keras.Model,
    split: FrozenSplit | None,
    features: Features | None,
    data: LoadedDataset,
    name: str,
    batch_size: int,
) -> np.ndarray:
    """Probabilities for one split, through the same path the model was trained on."""
    devices = replicas()
    if features is not None and split is not None:
        ds = tensor_batches(features.by_split[name], None, batch_size, False, 0, devices)
        return split.head.predict(ds, verbose=0).reshape(-1)
    ds = image_batches(data.splits[name].images, None, batch_size, False, 0, devices)
    return model.predict(ds, verbose=0).reshape(-1)


def read_history(path: Path) -> dict[str, list[float | None]]:
    """Per-epoch logs from the CSV log, which (unlike Keras' History) spans a resumed fit."""
    import csv

    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    keys = [k for k in (rows[0].keys() if rows else []) if k not in ("epoch", "learning_rate")]
    return {k: [_clean(row[k]) if row[k] not in ("", None) else None for row in rows] for k in keys}


def _clean(v: Any) -> float | None:
    f = float(v)
    return f if math.isfinite(f) else None


def _best_epoch(values: list[float | None], monitor: str) -> int | None:
    """The epoch early stopping restored: the first best value, by the one rule `better` states."""
    best: int | None = None
    for epoch, value in enumerate(values, 1):
        if value is not None and better(monitor, value, None if best is None else values[best - 1]):
            best = epoch
    return best
