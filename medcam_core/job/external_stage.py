"""The external stage: the model just trained, scored on each dataset its dataset's `external` key
names, at the threshold frozen on its own validation split; written into the job folder before
commit, so a finished job carries its external validations whole.

A dataset that cannot be read costs its own validation (a warning), never the trained model.
"""

from __future__ import annotations

import logging

from medcam_core.events import Notice
from medcam_core.job.context import JobContext
from medcam_core.vocabulary import Stage

log = logging.getLogger("medcam")


def validate_externally(ctx: JobContext) -> None:
    from medcam_core.data.load import inspect_dataset
    from medcam_core.evaluate.external import EXTERNAL_SPLIT, EvalSplit, FrozenThreshold, score_dataset
    from medcam_core.inference.classifier import Classifier
    from medcam_core.outputs.external import write_external

    job, env, work = ctx.job, ctx.env, ctx.work
    assert work is not None and ctx.evaluation is not None
    by_name = {d.name: d for d in env.config.datasets}
    frozen = ctx.evaluation["threshold"]["value"]
    scorer = Classifier.trained(ctx.built.model, work.root, job.preset.image_size, frozen)
    threshold = FrozenThreshold(frozen, f"validation split of {job.dataset.name} (this job's own)")
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
