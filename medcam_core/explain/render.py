"""Grad-CAM as pictures: overlays, heatmaps and panels at each image's original resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from medcam_core.data.decode import decode_full
from medcam_core.explain.cam import upsample
from medcam_core.explain.maps import Explained

DEFAULT_CMAP, DEFAULT_ALPHA = "jet", 0.4


def load_original(path: Path) -> np.ndarray:
    """The image at full resolution as 8-bit gray, decoded as training decodes it (DICOM included), for overlays."""
    return decode_full(path)


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
    # a fixed layout: tight_layout measured every tick and title, ~0.2 s a panel
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.84, wspace=0.04)
    fig.savefig(files["panel"], dpi=100)
    plt.close(fig)
    result.files = files
    return files
