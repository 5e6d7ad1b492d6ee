"""Deterministic X-ray-like images for the five tasks, with the lesion mask of every positive.

The images are written in the folder-per-class layout real data uses (`<task>/<class>/<file>.png`)
so the real loader reads them, and each positive's mask lies beside it as `<file>.mask.png`, the
ground truth that Grad-CAM localisation is scored against. Nothing here is medical: it exists so
the whole pipeline runs, learns and can be measured offline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

GENERATOR_VERSION = 3
MARKER = ".medcam_synthetic.json"
PATIENT_RE = r"^(p\d+)_"


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    positive: str
    draw_base: Callable[[ImageDraw.ImageDraw, int, np.random.Generator], dict]
    draw_lesion: Callable[[ImageDraw.ImageDraw, ImageDraw.ImageDraw, int, np.random.Generator, dict], None]
    label_noise: float  # share of each class drawn as the other class, with `generate(label_noise=True)`


def _ellipse(draw: ImageDraw.ImageDraw, cx: float, cy: float, rx: float, ry: float, fill: int) -> None:
    draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=fill)


def _jit(rng: np.random.Generator, scale: float) -> float:
    return float(rng.uniform(-scale, scale))


# -- chest -------------------------------------------------------------------------------------


def _chest(draw: ImageDraw.ImageDraw, s: int, rng: np.random.Generator, heart: float = 0.15) -> dict:
    cx = s / 2 + _jit(rng, s * 0.03)
    _ellipse(draw, cx, s * 0.55, s * 0.46, s * 0.5, 120)
    lungs = []
    for side in (-1, 1):
        lx, ly = cx + side * s * 0.2, s * 0.5 + _jit(rng, s * 0.02)
        rx, ry = s * (0.14 + _jit(rng, 0.01)), s * (0.3 + _jit(rng, 0.02))
        _ellipse(draw, lx, ly, rx, ry, 45)
        lungs.append((lx, ly, rx, ry))
    for k in range(6):
        y = s * (0.28 + 0.09 * k)
        draw.arc([cx - s * 0.38, y - s * 0.05, cx + s * 0.38, y + s * 0.08], 200, 340, fill=95, width=2)
    _ellipse(draw, cx + s * 0.03, s * 0.62, s * heart, s * 0.12, 150)
    return {"cx": cx, "lungs": lungs}


def _pneumonia_lesion(draw, mask, s, rng, geo):
    lx, ly, rx, ry = geo["lungs"][int(rng.integers(2))]
    px, py = lx + _jit(rng, rx * 0.4), ly + _jit(rng, ry * 0.5)
    for _ in range(5):
        bx, by = px + _jit(rng, s * 0.04), py + _jit(rng, s * 0.04)
        r = s * rng.uniform(0.035, 0.06)
        _ellipse(draw, bx, by, r, r, 175)
        _ellipse(mask, bx, by, r, r, 255)


def _cardiomegaly_base(draw, s, rng):
    return _chest(draw, s, rng, heart=0.15 + _jit(rng, 0.01))


def _cardiomegaly_lesion(draw, mask, s, rng, geo):
    cx, cy = geo["cx"] + s * 0.03, s * 0.62
    rx, ry = s * rng.uniform(0.24, 0.28), s * rng.uniform(0.15, 0.17)
    _ellipse(draw, cx, cy, rx, ry, 150)
    _ellipse(mask, cx, cy, rx, ry, 255)


# -- knee --------------------------------------------------------------------------------------


def _knee(draw: ImageDraw.ImageDraw, s: int, rng: np.random.Generator, gap: float = 0.07) -> dict:
    cx = s / 2 + _jit(rng, s * 0.03)
    jy = s * 0.5 + _jit(rng, s * 0.03)
    draw.rectangle([cx - s * 0.35, 0, cx + s * 0.35, s], fill=70)
    g = s * gap / 2
    draw.rounded_rectangle([cx - s * 0.2, -s * 0.1, cx + s * 0.2, jy - g], radius=s * 0.08, fill=185)
    draw.rounded_rectangle([cx - s * 0.22, jy + g, cx + s * 0.22, s * 1.1], radius=s * 0.06, fill=180)
    for _ in range(40):
        x, y = rng.uniform(cx - s * 0.18, cx + s * 0.18), rng.uniform(0, s)
        if abs(y - jy) > g + 3:
            draw.line([x, y, x + _jit(rng, 6), y + _jit(rng, 6)], fill=160, width=1)
    return {"cx": cx, "jy": jy, "gap": g}


def _osteoporosis_lesion(draw, mask, s, rng, geo):
    cx, jy = geo["cx"], geo["jy"]
    above = bool(rng.integers(2))
    px = cx + _jit(rng, s * 0.08)
    py = jy - s * rng.uniform(0.18, 0.3) if above else jy + s * rng.uniform(0.18, 0.3)
    r = s * rng.uniform(0.08, 0.11)
    _ellipse(draw, px, py, r, r * 1.3, 110)
    for _ in range(12):
        x, y = px + _jit(rng, r), py + _jit(rng, r)
        _ellipse(draw, x, y, 2, 2, 80)
    _ellipse(mask, px, py, r, r * 1.3, 255)


def _osteoarthritis_base(draw, s, rng):
    return _knee(draw, s, rng, gap=0.09 + _jit(rng, 0.01))


def _osteoarthritis_lesion(draw, mask, s, rng, geo):
    cx, jy = geo["cx"], geo["jy"]
    draw.rectangle([cx - s * 0.2, jy - s * 0.05, cx + s * 0.2, jy + s * 0.05], fill=182)
    draw.rectangle([cx - s * 0.2, jy - 1, cx + s * 0.2, jy + 1], fill=90)
    for side in (-1, 1):
        sx = cx + side * s * 0.21
        spur = [(sx, jy - s * 0.05), (sx + side * s * 0.07, jy + _jit(rng, s * 0.02)), (sx, jy + s * 0.05)]
        draw.polygon(spur, fill=235)
    mask.rectangle([cx - s * 0.3, jy - s * 0.07, cx + s * 0.3, jy + s * 0.07], fill=255)


# -- forearm -----------------------------------------------------------------------------------


def _limb(draw: ImageDraw.ImageDraw, s: int, rng: np.random.Generator) -> dict:
    cx = s / 2 + _jit(rng, s * 0.04)
    draw.polygon([(cx - s * 0.2, 0), (cx + s * 0.2, 0), (cx + s * 0.28, s), (cx - s * 0.28, s)], fill=80)
    bones = []
    for side in (-1, 1):
        bx = cx + side * s * 0.08
        w = s * (0.045 + _jit(rng, 0.005))
        draw.rounded_rectangle([bx - w, -s * 0.05, bx + w, s * 1.05], radius=w, fill=190)
        draw.line([bx, 0, bx, s], fill=150, width=max(1, int(w * 0.6)))
        bones.append((bx, w))
    return {"bones": bones}


def _limb_lesion(draw, mask, s, rng, geo):
    bx, w = geo["bones"][int(rng.integers(2))]
    y = s * rng.uniform(0.3, 0.7)
    tilt = _jit(rng, s * 0.04)
    _ellipse(draw, bx, y, w * 2.0, s * 0.06, 215)
    draw.line([bx - w * 2.0, y - tilt, bx + w * 2.0, y + tilt], fill=30, width=max(3, s // 22))
    mask.rectangle([bx - w * 2.4, y - abs(tilt) - s * 0.07, bx + w * 2.4, y + abs(tilt) + s * 0.07], fill=255)


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("pneumonia", "Pneumonia (synthetic chest)", "pneumonia", _chest, _pneumonia_lesion, 0.10),
        Task(
            "cardiomegaly",
            "Cardiomegaly (synthetic chest)",
            "cardiomegaly",
            _cardiomegaly_base,
            _cardiomegaly_lesion,
            0.06,
        ),
        Task("osteoporosis", "Knee osteoporosis (synthetic knee)", "osteoporosis", _knee, _osteoporosis_lesion, 0.16),
        Task(
            "osteoarthritis",
            "Knee osteoarthritis (synthetic knee)",
            "osteoarthritis",
            _osteoarthritis_base,
            _osteoarthritis_lesion,
            0.03,
        ),
        Task("limb", "Limb abnormalities (synthetic forearm)", "fracture", _limb, _limb_lesion, 0.12),
    )
}
NEGATIVE_CLASS = "normal"


def render(task: Task, size: int, positive: bool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """One image (uint8, H×W) and, for a positive, its lesion mask (bool).

    Anatomy, lesion and noise draw from separate streams, so a positive and a negative rendered
    from the same seed differ only where the lesion is.
    """
    base_rng, lesion_rng, noise_rng = rng.spawn(3)
    img = Image.new("L", (size, size), 15)
    draw = ImageDraw.Draw(img)
    geo = task.draw_base(draw, size, base_rng)
    mask_img = None
    if positive:
        mask_img = Image.new("L", (size, size), 0)
        task.draw_lesion(draw, ImageDraw.Draw(mask_img), size, lesion_rng, geo)
    img = img.filter(ImageFilter.GaussianBlur(radius=size / 160))
    arr = np.asarray(img, dtype=np.float32)
    arr *= noise_rng.uniform(0.85, 1.15)
    arr += noise_rng.normal(0, 6, arr.shape)
    out = np.clip(arr, 0, 255).astype(np.uint8)
    return out, (None if mask_img is None else np.asarray(mask_img) > 127)


def generate(
    root: Path,
    tasks: list[str] | None = None,
    per_class: int = 200,
    size: int = 128,
    seed: int = 0,
    label_noise: bool = False,
) -> Path:
    """Write the demo datasets under `root` (skipped when already there with the same settings).

    With `label_noise`, each task's share of images is drawn as the other class but filed under its
    own, as mislabelled radiographs are: a model that finds every lesion then reaches a test AUROC
    of about 1 − share, so the tasks differ in difficulty and comparisons have something to find.
    """
    root = Path(root)
    names = tasks or list(TASKS)
    params = {
        "version": GENERATOR_VERSION,
        "tasks": names,
        "per_class": per_class,
        "size": size,
        "seed": seed,
        "label_noise": label_noise,
    }
    marker = root / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == params:
        return root
    for t_index, name in enumerate(names):
        task = TASKS[name]
        for positive in (False, True):
            folder = root / name / (task.positive if positive else NEGATIVE_CLASS)
            folder.mkdir(parents=True, exist_ok=True)
            patient = 0
            i = 0
            while i < per_class:
                patient += 1
                views = 1 + int(patient % 3 == 0)
                for view in range(1, views + 1):
                    if i >= per_class:
                        break
                    rng = np.random.default_rng([seed, t_index, int(positive), patient, view])
                    draw = np.random.default_rng([seed, t_index, int(positive), patient, view, 1])
                    flipped = label_noise and draw.random() < task.label_noise
                    image, mask = render(task, size, positive != flipped, rng)
                    stem = f"p{int(positive)}{patient:04d}_{view}"
                    Image.fromarray(image).save(folder / f"{stem}.png")
                    if mask is not None and positive:  # a negative drawn with a lesion has no ground truth
                        Image.fromarray((mask * 255).astype(np.uint8)).save(folder / f"{stem}.mask.png")
                    i += 1
    marker.write_text(json.dumps(params))
    return root


def mask_path(image_path: Path) -> Path:
    """Where the mask of a synthetic positive lies: beside it, `<stem>.mask.png`."""
    return image_path.with_name(image_path.stem + ".mask.png")


def lesion_mask(image_path: Path) -> Path | None:
    """The lesion mask of an image, when it has one: what Grad-CAM's localisation figures are scored on.

    Pass it to `medcam_core.explain.localisation.localisation` as its mask lookup.
    """
    mask = mask_path(Path(image_path))
    return mask if mask.is_file() else None
