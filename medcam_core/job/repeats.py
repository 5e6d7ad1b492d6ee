"""Repeated seeds: one job trains `repeats` heads from one feature pass and says how much they differ.

On small data two runs of one preset can differ by more than the test interval; the spread of the
seeds measures that. Every repeat starts from the same frozen weights (copied from the first
model) with its own seed for the head's initial weights and the batch order; features are
computed once and shared. The model saved is the repeat with the best monitored validation value:
chosen on validation, never on test.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from medcam_core.events import Notice
from medcam_core.job.context import JobContext, JobStop
from medcam_core.outputs.job_folder import JobFolder
from medcam_core.outputs.metrics_schema import MeanSd, RepeatsSummary
from medcam_core.vocabulary import better


@dataclass
class Repeat:
    seed: int
    model: Any  # keras.Model
    split: Any  # FrozenSplit or None
    fitted: Any  # FitResult

    def best_value(self, monitor: str) -> float | None:
        """The monitored validation value at the epoch early stopping restored."""
        values, epoch = self.fitted.history.get(monitor, []), self.fitted.best_epoch
        if not epoch or epoch > len(values) or values[epoch - 1] is None:
            return None
        return float(values[epoch - 1])


def _model_for_seed(ctx: JobContext, seed: int) -> tuple[Any, Any]:
    """A model with the first one's frozen weights and a head initialised from `seed`."""
    from medcam_core.train.model import build_model, resolve_weights, split_frozen

    preset = replace(ctx.job.preset, seed=seed)
    built = build_model(preset, resolve_weights(preset.weights))
    for layer, first in zip(built.model.layers, ctx.built.model.layers, strict=True):
        if not layer.trainable and first.weights:
            layer.set_weights(first.get_weights())
    split = split_frozen(built.model)[0] if ctx.split is not None else None
    return built.model, split


def train_repeats(ctx: JobContext, train: Any) -> list[Repeat]:
    """Train every seed (the first is the model built by the build stage); `train(ctx, model, split,
    preset, work)` runs one fit and returns its FitResult."""
    job, env = ctx.job, ctx.env
    assert ctx.work is not None
    runs = []
    for r in range(job.preset.repeats):
        seed = job.preset.seed + r
        if r:
            env.emit(Notice("info", f"{job.id}: repeat {r + 1} of {job.preset.repeats} (seed {seed})", job.id))
            model, split = _model_for_seed(ctx, seed)
            work = JobFolder(ctx.work.repeats_dir / f"seed-{seed}")
            work.root.mkdir(parents=True, exist_ok=True)
        else:
            model, split, work = ctx.built.model, ctx.split, ctx.work
        fitted = train(ctx, model, split, replace(job.preset, seed=seed), work)
        if fitted.stopped:
            raise JobStop(*fitted.stopped)
        runs.append(Repeat(seed, model, split, fitted))
    return runs


def chosen(runs: list[Repeat], monitor: str) -> Repeat:
    """The repeat whose monitored validation value is best (the first on ties)."""
    best = runs[0]
    for run in runs[1:]:
        value, than = run.best_value(monitor), best.best_value(monitor)
        if value is not None and (than is None or better(monitor, value, than)):
            best = run
    return best


def summary(per_seed: list[dict[str, Any]], saved: Repeat, monitor: str) -> RepeatsSummary:
    """metrics.json's `repeats`: each seed's figures, their mean and SD, and which model was saved."""
    keys = ("auroc", "sensitivity", "specificity", "accuracy")
    stats: dict[str, MeanSd] = {}
    for key in keys:
        values = np.array([row[key] for row in per_seed if row[key] is not None], dtype=float)
        stats[key] = MeanSd(
            mean=float(values.mean()) if len(values) else None,
            sd=float(values.std(ddof=1)) if len(values) > 1 else None,
        )
    value = saved.best_value(monitor)
    return RepeatsSummary(
        seeds=[row["seed"] for row in per_seed],
        per_seed=per_seed,  # type: ignore[typeddict-item]  # plus best_<monitor>, named by the preset
        spread=stats,
        saved_seed=saved.seed,
        saved_because=f"best validation {monitor} ({value:.4f}) of the seeds; chosen on validation, not test"
        if value is not None
        else "the first seed: no seed had a validation value to compare",
    )


def score_repeats(ctx: JobContext, runs: list[Repeat]) -> list[dict[str, Any]]:
    """Each seed on the test split at its own validation-chosen threshold, as the saved model is."""
    from medcam_core.evaluate.metrics import choose_threshold, metrics_at
    from medcam_core.train.fit import predict

    job, data, spec = ctx.job, ctx.data, ctx.env.config.evaluation
    rows = []
    for run in runs:
        val, test = (
            predict(run.model, run.split, ctx.features, data, name, job.preset.batch_size) for name in ("val", "test")
        )
        threshold = choose_threshold(data.splits["val"].labels, val, spec)
        scored = metrics_at(data.splits["test"].labels, test, threshold)
        rows.append(
            {
                "seed": run.seed,
                "best_epoch": run.fitted.best_epoch,
                f"best_{job.preset.monitor}": run.best_value(job.preset.monitor),
                "threshold": threshold,
                **{key: scored[key] for key in ("auroc", "sensitivity", "specificity", "accuracy")},
            }
        )
    return rows
