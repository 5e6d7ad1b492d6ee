"""Grad-CAM put to use: PNG exports at each image's original resolution, and localisation figures.

Localisation is measured, not claimed: on images whose lesion mask is known (the synthetic data)
the pointing game asks whether the map's peak falls inside the mask, and the energy share asks how
much of the map lies inside it. Adebayo et al.'s sanity check re-runs Grad-CAM with the model's
weights re-initialised: a map that barely changes (high rank correlation) explains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medcam_core.data.decode import decode, to_gray_uint8
from medcam_core.data.synthetic import mask_path
from medcam_core.explain.cam import CamBatch, GradCAM, upsample
from medcam_core.train.input_pipeline import Indexable, to_model_input

DEFAULT_CMAP, DEFAULT_ALPHA = "jet", 0.4
PLAN_LAYER = "conv5_block16_2_conv"
CHUNK = 64


@dataclass
class Item:
    """One image to explain, with what is known about it."""

    path: Path
    label: int | None = None


@dataclass
class Explained:
    item: Item
    cam: np.ndarray
    probability: float
    target: float
    files: dict[str, Path] = field(default_factory=dict)


def pick_examples(rows: list[dict[str, Any]], threshold: float, per_outcome: int = 2) -> list[Item]:
    """A few true/false positives/negatives at the threshold from prediction rows (path, label, probability)."""
    picked: dict[tuple[int, bool], list[Item]] = {}
    for row in rows:
        label = int(row["label"])
        key = (label, float(row["probability"]) >= threshold)
        if len(picked.setdefault(key, [])) < per_outcome:
            picked[key].append(Item(Path(row["path"]), label))
    return [item for items in picked.values() for item in items]


def load_original(path: Path) -> np.ndarray:
    """The image at full resolution as 8-bit gray (16-bit stretched), for overlays."""
    with Image.open(path) as im:
        im.load()
        return to_gray_uint8(im)


def colorize(cam: np.ndarray, cmap: str = DEFAULT_CMAP) -> np.ndarray:
    import matplotlib

    rgba = matplotlib.colormaps[cmap](np.clip(cam, 0, 1))
    return (rgba[..., :3] * 255).astype(np.uint8)


def overlay(
    gray: np.ndarray, cam_full: np.ndarray, cmap: str = DEFAULT_CMAP, alpha: float = DEFAULT_ALPHA
) -> np.ndarray:
    base = np.repeat(gray[..., None], 3, axis=-1).astype(np.float32)
    heat = colorize(cam_full, cmap).astype(np.float32)
    return np.clip((1 - alpha) * base + alpha * heat, 0, 255).astype(np.uint8)


def model_inputs(items: list[Item], size: int) -> np.ndarray:
    gray = np.stack([decode(item.path, size) for item in items])
    return np.asarray(to_model_input(gray))


def explain(
    cam: GradCAM,
    items: list[Item],
    size: int,
    target: str = "predicted",
    threshold: float = 0.5,
    inputs: Indexable | None = None,
) -> list[Explained]:
    """Maps for `items`, a chunk at a time so memory does not grow with the test split.

    `inputs`, aligned with `items`, are what `cam`'s model takes (cached frozen features for the
    trainable head); without them each image is decoded for the full model.
    """
    out: list[Explained] = []
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        x = model_inputs(chunk, size) if inputs is None else inputs[np.arange(start, start + len(chunk))]
        batch: CamBatch = cam(x, target=target, threshold=threshold)
        out += [
            Explained(item, batch.maps[i], float(batch.probabilities[i]), float(batch.targets[i]))
            for i, item in enumerate(chunk)
        ]
    return out


def export(
    result: Explained,
    out_dir: Path,
    layer: str,
    threshold: float,
    cmap: str = DEFAULT_CMAP,
    alpha: float = DEFAULT_ALPHA,
) -> dict[str, Path]:
    """overlay, heatmap and panel PNGs at original resolution, and the raw map as .npy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = result.item.path.stem
    gray = load_original(result.item.path)
    full = upsample(result.cam, *gray.shape)
    files = {
        "overlay": out_dir / f"{stem}_overlay.png",
        "heatmap": out_dir / f"{stem}_heatmap.png",
        "panel": out_dir / f"{stem}_panel.png",
        "map": out_dir / f"{stem}_cam.npy",
    }
    mixed = overlay(gray, full, cmap, alpha)
    Image.fromarray(mixed).save(files["overlay"])
    Image.fromarray(colorize(full, cmap)).save(files["heatmap"])
    np.save(files["map"], result.cam.astype(np.float32))
    label = {None: "unknown", 0: "negative", 1: "positive"}[result.item.label]
    explains = "positive" if result.target > 0 else "negative"
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
    for ax, image, title in zip(
        axes, (gray, colorize(full, cmap), mixed), ("original", "Grad-CAM", "overlay"), strict=True
    ):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        ax.set_title(title)
        ax.axis("off")
    blank = " · all zero: no region raises this class's logit" if not result.cam.any() else ""
    fig.suptitle(
        f"{stem} · true label: {label} · P(positive) = {result.probability:.3f} · threshold {threshold:.3f}\n"
        f"layer {layer} · map explains the {explains} class{blank} · research use only",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(files["panel"], dpi=100)
    plt.close(fig)
    result.files = files
    return files


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    from PIL import ImageFilter

    grown = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(2 * radius + 1))
    return np.asarray(grown) > 127


def localisation(results: list[Explained]) -> dict[str, Any]:
    """Pointing game (strict, and within 1/16 of the image side as Zhang et al.'s 15 px at ~224) and
    energy-in-mask, over the results whose mask exists; each next to its chance level (area share)."""
    hits, near, energy, share, near_share = [], [], [], [], []
    for r in results:
        mask_file = mask_path(r.item.path)
        if not mask_file.is_file():
            continue
        mask = np.asarray(Image.open(mask_file).convert("L")) > 127
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


def randomisation_check(
    model: Any, layer: str, items: list[Item], size: int, maps: np.ndarray, traced: bool = True
) -> float | None:
    """Mean Spearman rank correlation between the trained model's maps and a re-initialised model's."""
    import keras
    from scipy.stats import spearmanr

    if not items:
        return None
    random_model = keras.models.clone_model(model)
    random_maps = GradCAM(random_model, layer, traced=traced)(model_inputs(items, size), target="positive").maps
    rhos = []
    for a, b in zip(maps, random_maps, strict=True):
        if a.std() > 0 and b.std() > 0:
            rhos.append(float(spearmanr(a.ravel(), b.ravel()).statistic))
    return float(np.mean(rhos)) if rhos else None
