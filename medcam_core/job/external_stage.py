"""The external stage: the model just trained, scored on each dataset its dataset's `external` key
names, at the threshold frozen on its own validation split; written into the job folder before
commit, so a finished job carries its external validations whole.

A dataset that cannot be read costs its own validation (a warning), never the trained model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from medcam_core.events import Notice
from medcam_core.job.context import JobContext
from medcam_core.vocabulary import Stage

log = logging.getLogger("medcam")


@dataclass
class TrainedScorer:
    """A model of this tool: decoded gray images through the training preprocessing to P(positive)."""

    model: Any
    image_size: int

    def probabilities(self, gray: np.ndarray) -> np.ndarray:
        from medcam_core.train.input_pipeline import to_model_input

        return np.asarray(self.model(to_model_input(gray), training=False)).reshape(-1)


def validate_externally(ctx: JobContext) -> None:
    from medcam_core.data.load import inspect_dataset
    from medcam_core.evaluate.external import EXTERNAL_SPLIT, EvalSplit, FrozenThreshold, score_dataset
    from medcam_core.outputs.external import write_external

    job, env, work = ctx.job, ctx.env, ctx.work
    assert work is not None and ctx.evaluation is not None
    by_name = {d.name: d for d in env.config.datasets}
    scorer = TrainedScorer(ctx.built.model, job.preset.image_size)
    threshold = FrozenThreshold(
        ctx.evaluation["threshold"]["value"], f"validation split of {job.dataset.name} (this job's own)"
    )
    for name in job.dataset.external:
        ctx.check_stop()
        spec = by_name[name]
        try:
            progress = ctx.progress(Stage.EXTERNAL)
            data = inspect_dataset(spec, job.preset.image_size, job.preset.seed, progress, env.scratch)
            metrics, rows = score_dataset(
                scorer, data, EvalSplit.ALL, threshold, env.config.evaluation, job.preset.seed, job.id
            )
        except Exception as exc:  # the trained model is saved already: only this validation is lost
            log.warning("job %s: external validation on %s failed", job.id, name, exc_info=True)
            env.emit(Notice("warning", f"{job.id}: no external validation on {name!r}: {exc}", job.id))
            continue
        write_external(work.external(name), metrics, rows, f"{job.id} on {spec.label}", EXTERNAL_SPLIT)
        auroc = metrics["test"].get("auroc")
        shown = "n/a" if auroc is None else f"{auroc:.3f}"
        env.emit(Notice("info", f"{job.id}: external validation on {name!r}: AUROC {shown}", job.id))
