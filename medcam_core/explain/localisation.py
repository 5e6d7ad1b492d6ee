"""Localisation is measured, not claimed.

On images whose lesion mask is known the pointing game asks whether the map's peak falls inside the
mask, and the energy share asks how much of the map lies inside it. Which images have a mask, and
where it lies, is the data's business: the caller passes a `MaskLookup`
(`medcam_core.data.ground_truth.GroundTruth.mask_for`: annotated boxes, or the synthetic masks).
Adebayo et al.'s sanity check re-runs Grad-CAM with the model's weights re-initialised: a map that
barely changes (high rank correlation) explains nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from medcam_core.explain.cam import GradCAM, upsample
from medcam_core.explain.maps import Explained, Item, model_inputs
from medcam_core.outputs.metrics_schema import LocalisationFigures

MaskLookup = Callable[[Path], np.ndarray | None]
"""An image's boolean lesion mask at any resolution, or None when the image has none."""


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """The mask grown by `radius` pixels in every direction (a square window). Separable, so its cost
    does not grow with the window's area as a 2-D rank filter's does."""
    from scipy.ndimage import maximum_filter

    return maximum_filter(mask.astype(bool), size=2 * radius + 1, mode="constant", cval=False)


def localisation(results: list[Explained], mask_for: MaskLookup) -> LocalisationFigures:
    """Pointing game (strict, and within 1/16 of the image side as Zhang et al.'s 15 px at ~224) and
    energy-in-mask, over the results whose mask `mask_for` finds; each next to its chance level (area share)."""
    hits, near, energy, share, near_share = [], [], [], [], []
    for r in results:
        mask = mask_for(r.item.path)
        if mask is None or not mask.any():
            continue
        grown = _dilate(mask, max(1, min(mask.shape) // 16))
        full = upsample(r.cam, *mask.shape)
        total = float(full.sum())
        peak = np.unravel_index(int(np.argmax(full)), full.shape)
        hits.append(bool(mask[peak]) and total > 0)
        near.append(bool(grown[peak]) and total > 0)
        energy.append(float(full[mask].sum() / total) if total > 0 else 0.0)
        share.append(float(mask.mean()))
        near_share.append(float(grown.mean()))
    mean = lambda v: float(np.mean(v)) if v else None  # noqa: E731
    return {
        "n": len(hits),
        "pointing_game": mean(hits),
        "pointing_game_tolerant": mean(near),
        "energy_in_mask": mean(energy),
        "mask_area_share": mean(share),
        "tolerant_area_share": mean(near_share),
    }


_RANDOMISED: dict[tuple[str, str, int], GradCAM] = {}  # the last few made, oldest first
KEEP_RANDOMISED = 4
RESEED = 1_000_003  # the re-initialisation's seed is the job's plus this


def randomised_cam(model: Any, layer: str, seed: int, reuse: bool = True) -> GradCAM:
    """Grad-CAM of `model`'s architecture with every weight re-initialised (seeded). It depends on the
    architecture alone, not on the trained weights, so one made for a configuration serves every later
    model of that configuration in this process: a queue's jobs, and the next queue's (cloning
    DenseNet121 costs seconds). `reuse=False` makes a fresh one, for a model tied to a distribution
    strategy. Eager: for the check's few images that is cheaper than tracing the whole model's gradient.
    Seeded from `seed` but not with it: a job built from random weights (`weights = "none"`) starts from
    the very weights `seed` gives, and its frozen layers would come back unchanged."""
    import hashlib

    import keras

    key = (hashlib.sha256(model.to_json().encode()).hexdigest(), layer, seed)
    if reuse and key in _RANDOMISED:
        return _RANDOMISED[key]
    keras.utils.set_random_seed(seed + RESEED)
    cam = GradCAM(keras.models.clone_model(model), layer, traced=False)
    if reuse:
        _RANDOMISED[key] = cam
        while len(_RANDOMISED) > KEEP_RANDOMISED:
            del _RANDOMISED[next(iter(_RANDOMISED))]
    return cam


KEEP_RANDOM_MAPS = 16  # image sets per model: a few KB each
_RANDOM_MAPS: weakref.WeakKeyDictionary[GradCAM, dict[tuple, np.ndarray]] = weakref.WeakKeyDictionary()


def _random_maps(random_cam: GradCAM, items: list[Item], size: int) -> np.ndarray:
    """The re-initialised model's raw maps of `items`, made once per model and set of image files.

    A queue's presets of one dataset check the same first test positives against the same kept
    model, so the second job reuses the first's eager pass (~3 s at 224 px) instead of repeating it.
    Keyed by each file's path, size and modification time, so a changed file is mapped anew."""
    stats = [item.path.stat() for item in items]
    key = (size, tuple((str(item.path), st.st_size, st.st_mtime_ns) for item, st in zip(items, stats, strict=True)))
    known = _RANDOM_MAPS.setdefault(random_cam, {})
    if key not in known:
        known[key] = random_cam.signed(model_inputs(items, size))[0]
        while len(known) > KEEP_RANDOM_MAPS:
            del known[next(iter(known))]
    return known[key]


def randomisation_check(random_cam: GradCAM, items: list[Item], size: int, signed: np.ndarray) -> float | None:
    """Mean Spearman rank correlation between the trained model's raw maps of `items` (`signed`, from
    `GradCAM.signed`) and the re-initialised model's, over the images where both vary. Raw, not the
    ReLU'd maps: a random model's map is often below zero everywhere, its ReLU'd map all zero, and a
    map with nothing in it has no ranks to compare."""
    from scipy.stats import spearmanr

    if not items:
        return None
    random_signed = _random_maps(random_cam, items, size)
    rhos = []
    for a, b in zip(signed, random_signed, strict=True):
        if a.std() > 0 and b.std() > 0:
            rhos.append(float(spearmanr(a.ravel(), b.ravel()).statistic))
    return float(np.mean(rhos)) if rhos else None
