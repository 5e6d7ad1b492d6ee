"""The explain stage: Grad-CAM localisation figures on the test positives whose lesion is known (the
dataset's annotated boxes, else the synthetic masks), a weight-randomisation sanity check, and
example panels for the report.

With cached features the maps start from them: the frozen layers already ran once for this dataset,
and what follows the boundary is the model itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medcam_core.job.context import JobContext
from medcam_core.outputs.metrics_schema import GradcamSummary

if TYPE_CHECKING:
    from medcam_core.explain.cam import GradCAM


def _randomised(ctx: JobContext, layer: str) -> GradCAM:
    """The sanity check's re-initialised model; a mirrored job's model belongs to its own strategy."""
    from medcam_core.explain.localisation import randomised_cam

    preset = ctx.job.preset
    return randomised_cam(ctx.built.model, layer, preset.seed, reuse=preset.strategy == "default")


def explain_job(ctx: JobContext) -> GradcamSummary:
    from medcam_core.data.ground_truth import GroundTruth
    from medcam_core.explain.cam import GradCAM, feature_layers
    from medcam_core.explain.localisation import localisation, randomisation_check
    from medcam_core.explain.maps import PLAN_LAYER, Item, explain, model_inputs
    from medcam_core.explain.picking import pick_examples
    from medcam_core.explain.render import export
    from medcam_core.train.precision import xla

    model, size, work = ctx.built.model, ctx.job.preset.image_size, ctx.work
    assert work is not None
    assert ctx.evaluation is not None and ctx.data is not None
    truth = GroundTruth.for_dataset(ctx.job.dataset, ctx.data.boxes)
    threshold = ctx.evaluation["threshold"]["value"]
    test = [p for p in ctx.predictions if p["split"] == "test"]
    present = [i for i, p in enumerate(test) if Path(p["path"]).is_file()]  # files can vanish
    positives = [i for i in present if test[i]["label"] == 1]
    usable = feature_layers(model)
    default = usable[-1]
    layers = [default] + ([PLAN_LAYER] if PLAN_LAYER in usable else [])
    start, features = None, None
    if ctx.features is not None and set(layers) <= set(feature_layers(ctx.split.head)):
        start, features = ctx.split.boundary, ctx.features.by_split["test"]

    def items(rows: list[int]) -> list[Item]:
        return [Item(Path(test[i]["path"]), int(test[i]["label"])) for i in rows]

    def run(cam: GradCAM, rows: list[int], target: str) -> list:
        inputs = features.subset(rows) if features is not None else None
        return explain(cam, items(rows), size, target=target, threshold=threshold, inputs=inputs)

    out = GradcamSummary(default_layer=default, target="positive", layers={}, examples=0)
    traced = not ctx.job.preset.run_eagerly
    jit = xla(ctx.job.preset.jit_compile)
    cams = {layer: GradCAM(model, layer, traced=traced, start=start, jit_compile=jit) for layer in layers}
    for layer, cam in cams.items():
        figures = localisation(run(cam, positives, "positive"), truth.mask_for)
        if figures["n"]:
            out["layers"][layer] = figures
    if out["layers"]:
        out["ground_truth"] = truth.source
        out["note"] = f"measured against {truth.source}; chance level of the pointing game = mask_area_share"
        sample = positives[:8]
        inputs = features.subset(sample)[np.arange(len(sample))] if features is not None else None
        signed, _ = cams[default].signed(model_inputs(items(sample), size) if inputs is None else inputs)
        out["randomised_weights_rank_correlation"] = randomisation_check(
            _randomised(ctx, default), items(sample), size, signed
        )
    index = {test[i]["path"]: i for i in present}
    examples = [index[str(item.path)] for item in pick_examples([test[i] for i in present], threshold)]
    for result in run(cams[default], examples, "predicted"):
        export(result, work.gradcam_dir, default, threshold)
    out["examples"] = len(examples)
    return out
