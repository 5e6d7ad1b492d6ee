"""The stages of one job, in order. Each takes the job's context, does one thing, and leaves its
result there; the pipeline (`job.run`) orders them, reports them and isolates their failures."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from medcam_core import __version__
from medcam_core.config import Preset
from medcam_core.data.load import load_dataset
from medcam_core.events import DatasetLoaded, ModelBuilt, Notice, StageStarted
from medcam_core.job.context import JobContext, JobStop
from medcam_core.job.repeats import chosen, score_repeats, summary, train_repeats
from medcam_core.jobqueue.machine import JOB_PEAKS
from medcam_core.outputs.job_folder import JobFolder, open_work, write_curves, write_predictions
from medcam_core.outputs.metrics_schema import DatasetSummary, Metrics, TrainingSummary
from medcam_core.outputs.model_readme import model_readme
from medcam_core.serialize import dumps, write_json_atomic
from medcam_core.vocabulary import Stage

log = logging.getLogger("medcam")


def load(ctx: JobContext) -> None:
    """The dataset, decoded once per process and dataset: the next preset of it reuses it."""
    JOB_PEAKS.start()  # the job's peak memory counts from here (saved in metrics.json)
    job, env, cache = ctx.job, ctx.env, ctx.env.cache
    key = (job.dataset, job.preset.image_size, job.preset.seed)
    if cache.data is None or cache.data_key != key:
        cache.clear()
        cache.data = load_dataset(
            job.dataset, job.preset.image_size, job.preset.seed, ctx.progress(Stage.LOAD), env.scratch
        )
        cache.data_key = key
        for path, reason in cache.data.skipped:
            log.warning("dataset %s: skipped %s: %s", job.dataset.name, path, reason)
        for note in cache.data.notes:
            env.emit(Notice("info", f"dataset {job.dataset.name!r}: {note}", job.id))
    data = ctx.data = cache.data
    counts, patients, skipped = data.counts(), data.patients(), data.skipped_reasons()
    env.emit(DatasetLoaded(job.id, counts, patients, len(data.skipped), skipped, data.seconds))


def build(ctx: JobContext) -> None:
    """The flat model in the job's device scope, and the frozen part to cache when the preset allows."""
    from medcam_core.train.model import build_model, resolve_weights, split_frozen
    from medcam_core.train.strategy import job_scope

    job, env = ctx.job, ctx.env
    preset = job.preset
    ctx.scope.enter_context(
        job_scope(preset.strategy, preset.batch_size, lambda t: env.emit(Notice("info", t, job.id)))
    )
    t0 = time.perf_counter()
    weights = resolve_weights(preset.weights)
    built = ctx.built = build_model(preset, weights)
    if not preset.cache_features:
        split, why = None, "cache_features = false"
    elif preset.augment.active and preset.augment_views == 0:
        split, why = None, "augment_views = 0: every epoch augments the images afresh"
    else:
        split, why = split_frozen(built.model)
    ctx.split = split
    total = len(built.model.layers)
    if weights is None and built.trainable_layers < total / 2 and preset.name not in env.warned:
        env.warned.add(preset.name)
        env.emit(
            Notice(
                "warning",
                f'preset {preset.name!r}: weights = "none" with {built.trainable_layers} of {total} layers '
                "trainable: the frozen layers keep random weights, so accuracy will be limited.",
                job.id,
            )
        )
    if not split:
        env.emit(Notice("info", f"training on images every epoch: {why}", job.id))
    trainable = sum(int(w.numpy().size) for w in built.model.trainable_weights)
    path = "cached-features" if split else "plain"
    env.emit(
        ModelBuilt(
            job.id,
            built.model.count_params(),
            trainable,
            built.first_trainable,
            built.trainable_layers,
            path,
            time.perf_counter() - t0,
        )
    )


def _features(ctx: JobContext) -> None:
    """One pass of the frozen part over every image, shared with the next job of the same dataset."""
    from medcam_core.train.fit import compute_features
    from medcam_core.train.precision import xla

    job, env, cache, p = ctx.job, ctx.env, ctx.env.cache, ctx.job.preset
    augment, views = (p.augment, p.augment_views) if p.augment.active else (None, 1)
    key = (job.dataset.name, p.image_size, p.seed, p.weights, p.trainable_layers, ctx.split.boundary)
    key += (p.precision, augment, views)
    if cache.features is not None and cache.features.key == key:
        env.emit(Notice("info", f"re-using frozen features of {job.dataset.name} from the previous job", job.id))
        ctx.features = cache.features
        return
    cache.features = None
    env.publish(StageStarted(job.id, Stage.FEATURES))
    features = compute_features(
        ctx.split,
        ctx.data,
        max(p.batch_size, 32),
        key,
        ctx.progress(Stage.FEATURES),
        lambda: env.control.stop_requested(job.id) is not None,
        p.run_eagerly,
        env.scratch,
        augment,
        views,
        p.seed,
        xla(p.jit_compile),
    )
    if features is None:
        raise JobStop(*env.control.stop_requested(job.id))
    ctx.features = cache.features = features
    if augment is not None:
        train = features.by_split["train"]
        size = f"{train.shape[0] * train.record_bytes / 1e6:,.0f} MB"
        env.emit(
            Notice(
                "info",
                f"{views} augmented views of each of {len(ctx.data.splits['train'])} training images cached "
                f"({size} of frozen features in {env.scratch}); each epoch draws one view per image",
                job.id,
            )
        )


def _train_one(ctx: JobContext, model: Any, split: Any, preset: Preset, work: JobFolder) -> Any:
    from medcam_core.train.fit import fit as train

    env = ctx.env
    return train(ctx.job.id, preset, model, ctx.data, ctx.features, split, work, env.emit, env.control, env.throttle_s)


def fit(ctx: JobContext) -> None:
    """Training in the job's work folder, resumed from its last epoch when one was interrupted; with
    `repeats`, one head per seed on the same features, and the best on validation kept."""
    job, env = ctx.job, ctx.env
    spec = dumps({"dataset": asdict(job.dataset), "preset": asdict(job.preset)})
    ctx.work, resumed = open_work(env.output, job.folder_name, spec)
    if resumed:
        env.emit(Notice("info", f"resuming {job.id} from its last completed epoch", job.id))
    if ctx.split:
        _features(ctx)
    ctx.repeats = train_repeats(ctx, _train_one)
    saved = chosen(ctx.repeats, job.preset.monitor)
    ctx.built, ctx.split, ctx.fitted = replace(ctx.built, model=saved.model), saved.split, saved.fitted


def evaluate(ctx: JobContext) -> None:
    """Threshold frozen on validation, then the test split once; every probability kept for the files."""
    from medcam_core.evaluate.metrics import evaluate as score
    from medcam_core.train.fit import predict
    from medcam_core.train.strategy import replicas

    job, data, fitted = ctx.job, ctx.data, ctx.fitted
    probs = {
        name: predict(ctx.built.model, ctx.split, ctx.features, data, name, job.preset.batch_size)
        for name in ("val", "test")
    }
    test = data.splits["test"]
    patients = test.patients if job.dataset.patient_id else None
    ctx.evaluation = score(
        data.splits["val"].labels,
        probs["val"],
        test.labels,
        probs["test"],
        patients,
        ctx.env.config.evaluation,
        job.preset.seed,
    )
    ctx.training = TrainingSummary(
        epochs_run=fitted.epochs_run,
        epochs_planned=job.preset.epochs,
        best_epoch=fitted.best_epoch,
        monitor=job.preset.monitor,
        training_path="cached-features" if ctx.features is not None else "plain",
        replicas=replicas(),
        seconds=ctx.seconds,
        first_trainable=ctx.built.first_trainable,
        trainable_layers=ctx.built.trainable_layers,
    )
    if len(ctx.repeats) > 1:
        ctx.repeat_summary = summary(
            score_repeats(ctx, ctx.repeats), chosen(ctx.repeats, job.preset.monitor), job.preset.monitor
        )
    ctx.predictions = [
        {"split": name, "path": path, "patient": patient, "label": int(label), "probability": float(prob)}
        for name in ("val", "test")
        for path, patient, label, prob in zip(
            data.splits[name].paths, data.splits[name].patients, data.splits[name].labels, probs[name], strict=True
        )
    ]


def explain(ctx: JobContext) -> None:
    from medcam_core.job.explain_stage import explain_job

    ctx.gradcam = explain_job(ctx)


def save(ctx: JobContext) -> None:
    """The three model formats, the resolved config, metrics, history, predictions, curves, the test
    split's ROC, precision–recall and reliability pictures, README."""
    import keras

    from medcam_core.inference.model_file import extract_weights
    from medcam_core.outputs.pictures import write_pictures

    job, work, data = ctx.job, ctx.work, ctx.data
    assert work is not None and ctx.evaluation is not None and ctx.training is not None and ctx.gradcam is not None
    work.make_dirs()
    model = ctx.built.model
    model.save(work.model_file)
    model.save(work.h5_model_file)
    extract_weights(work.model_file, work.weights_file)
    write_json_atomic(
        work.config_file,
        {
            "job": job.id,
            "dataset": asdict(job.dataset),
            "preset": asdict(job.preset),
            "evaluation": asdict(ctx.env.config.evaluation),
            "queue_config": ctx.env.config.source,
            "device": ctx.env.device,
            "versions": {"medcam": __version__, "keras": keras.__version__},
        },
    )
    ctx.training["peak_memory"] = JOB_PEAKS.read()  # after evaluate and Grad-CAM, before the files
    dataset = DatasetSummary(counts=data.counts(), patients=data.patients(), skipped=len(data.skipped))
    metrics = ctx.metrics = Metrics(
        job=job.id,
        dataset=dataset,
        preset=job.preset.name,
        **ctx.evaluation,
        training=ctx.training,
        gradcam=ctx.gradcam,
    )
    if ctx.repeat_summary is not None:
        metrics["repeats"] = ctx.repeat_summary
    history = ctx.fitted.history
    write_json_atomic(work.metrics_file, metrics)
    write_json_atomic(work.history_file, history)
    write_predictions(work.predictions_file, ctx.predictions)
    write_curves(work.curves_file, history, f"{job.dataset.label} — {job.preset.name}")
    write_pictures(work, ctx.predictions, metrics, f"{job.dataset.label} — {job.preset.name}")
    readme = model_readme(job.id, job.dataset.label, asdict(job.preset), metrics, job.folder_name)
    work.readme_file.write_text(readme, encoding="utf-8")


def external(ctx: JobContext) -> None:
    from medcam_core.job.external_stage import validate_externally

    validate_externally(ctx)


STAGES: tuple[tuple[Stage, Callable[[JobContext], None]], ...] = (
    (Stage.LOAD, load),
    (Stage.BUILD, build),
    (Stage.FIT, fit),
    (Stage.EVALUATE, evaluate),
    (Stage.EXPLAIN, explain),
    (Stage.SAVE, save),
    (Stage.EXTERNAL, external),
)
