"""See what the model sees: a few images per split and class, decoded exactly as training decodes them.

The picks come from the job's own discovery and split assignment (same recipe, seed and cap), at
most `PER_CLASS` per (split, class) in a seeded order; only those are decoded, with the training
decoder at N px, and written as the 8-bit pixels training stores before `preprocess_input`.
Duplicate and leak drops, which need every image decoded, are not applied. A file that cannot be
decoded is passed over for the next one.

Layout under the preview folder: `<dataset>/<split>/<positive|negative>/<name>.png` and a contact
sheet `<dataset>.png`. The dataset folder is built aside and swapped in, the sheet is written to a
temp file and renamed, so neither is ever seen half-written. The sheet carries a summary in a PNG
text chunk, which lets a caller reuse it while the dataset and settings are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from medcam_core.config import DatasetSpec
from medcam_core.data.decode import ImageSkipped, decode
from medcam_core.data.discovery import Discovered, Sample, assign_splits, class_label
from medcam_core.data.recipes import discover
from medcam_core.data.splits import SPLITS
from medcam_core.errors import DataError
from medcam_core.safe_text import printable
from medcam_core.serialize import dumps, to_jsonable

PER_CLASS = 16
MIN_SIZE, MAX_SIZE, DEFAULT_SIZE = 16, 1024, 224
THUMB, GAP, MARGIN, LABEL_HEIGHT, HEADING_HEIGHT = 112, 4, 8, 18, 26
MIN_WIDTH = 560  # room for the heading when few images are shown
MARKER = ".medcam-preview"  # a folder holding it was written here and may be replaced
TEXT_KEY = "medcam-preview"
NAME_DEPTH = 4  # path parts tried, from the file upwards, before a name gets a hash
MAX_NAME = 120
BACKGROUND, INK = (24, 24, 24), (235, 235, 235)
CLASS_INK = {"positive": (255, 170, 120), "negative": (140, 200, 255)}


class PreviewClass(str, Enum):
    """The class folders of a preview: label 1 and label 0, whatever the dataset calls them."""

    POSITIVE = "positive"
    NEGATIVE = "negative"


@dataclass(frozen=True)
class PreviewRow:
    """One (split, class) row of the contact sheet."""

    split: str
    cls: PreviewClass
    names: tuple[str, ...]  # the dataset's class names behind this label, where known
    available: int  # images discovery assigned to this split and class
    files: tuple[str, ...]  # PNGs written, relative to the dataset's preview folder
    sources: tuple[str, ...]  # the image each of them was decoded from
    skipped: int  # picks passed over because they could not be decoded

    def heading(self) -> str:
        names = f" ({', '.join(self.names)})" if self.names else ""
        if not self.names and self.cls is PreviewClass.NEGATIVE:
            names = " (the rest)"
        text = f"{self.split} · {self.cls.value}{names} · {len(self.files)} of {self.available}"
        return text + (f" · {self.skipped} undecodable passed over" if self.skipped else "")


@dataclass(frozen=True)
class Preview:
    dataset: str
    size: int
    seed: int
    fingerprint: str  # the dataset spec, size and seed it was made from
    sheet: Path
    folder: Path
    rows: tuple[PreviewRow, ...]

    @property
    def written(self) -> int:
        return sum(len(row.files) for row in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {**to_jsonable(self), "images": self.written}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Preview:
        rows = tuple(
            PreviewRow(
                **{k: tuple(v) if isinstance(v, list) else v for k, v in r.items()} | {"cls": PreviewClass(r["cls"])}
            )
            for r in data["rows"]
        )
        paths = Path(data["sheet"]), Path(data["folder"])
        return cls(data["dataset"], data["size"], data["seed"], data["fingerprint"], *paths, rows)


def check_size(size: int) -> int:
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"expected an image size from {MIN_SIZE} to {MAX_SIZE} px, got {size}")
    return size


def fingerprint(spec: DatasetSpec, size: int, seed: int) -> str:
    return hashlib.blake2b(
        dumps([spec, size, seed, PER_CLASS]).encode("utf-8", "surrogatepass"), digest_size=8
    ).hexdigest()


def refuse_inside(out_dir: Path, spec: DatasetSpec) -> None:
    """Previews written inside a dataset would be read back as its images by the next job."""
    if out_dir.resolve().is_relative_to(spec.path.resolve()):
        raise DataError(
            f"preview folder {out_dir} lies inside dataset {spec.name!r} ({spec.path}): "
            "its PNGs would become training images; choose a folder outside it"
        )


def write_preview(spec: DatasetSpec, size: int, seed: int, out_dir: Path) -> Preview:
    """Pick, decode and write the preview of one dataset; DataError when it cannot be read at all."""
    check_size(size)
    refuse_inside(out_dir, spec)
    found = discover(spec, seed)
    assign_splits(found.samples, spec.split, seed)
    final = out_dir / spec.name
    if final.exists() and not (final.is_dir() and ((final / MARKER).is_file() or not any(final.iterdir()))):
        raise DataError(f"{final} exists and was not written by a preview; move it or choose another folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", suffix=".partial", dir=out_dir))
    try:
        os.chmod(work, 0o755)  # mkdtemp makes 0700; previews are meant to be shared
        (work / MARKER).touch()
        rows, thumbs = [], []
        for split in SPLITS:
            for cls in PreviewClass:
                row, pictures = _write_row(found, spec, split, cls, size, seed, work)
                rows.append(row)
                thumbs.append(pictures)
        _swap_in(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    preview = Preview(
        spec.name, size, seed, fingerprint(spec, size, seed), out_dir / f"{spec.name}.png", final, tuple(rows)
    )
    save_png_atomic(preview.sheet, contact_sheet(preview, thumbs), preview.to_json())
    return preview


def _write_row(
    found: Discovered, spec: DatasetSpec, split: str, cls: PreviewClass, size: int, seed: int, work: Path
) -> tuple[PreviewRow, list[Image.Image]]:
    label = 1 if cls is PreviewClass.POSITIVE else 0
    pool = [s for s in found.samples if s.split == split and s.label == label]
    picked, skipped = pick(pool, size, seed, SPLITS.index(split), label)
    names = unique_names([s.path for s, _ in picked])
    folder = work / split / cls.value
    folder.mkdir(parents=True, exist_ok=True)
    thumbs = []
    for name, (_, pixels) in zip(names, picked, strict=True):
        Image.fromarray(pixels).save(folder / name, format="PNG")
        thumbs.append(thumbnail(pixels))
    files = tuple(f"{split}/{cls.value}/{name}" for name in names)
    sources = tuple(str(s.path) for s, _ in picked)
    row = PreviewRow(split, cls, class_names(spec, found, label), len(pool), files, sources, skipped)
    return row, thumbs


def pick(pool: Sequence[Sample], size: int, seed: int, *stream: int) -> tuple[list[tuple[Sample, np.ndarray]], int]:
    """Up to PER_CLASS samples in a seeded order, decoded; undecodable ones are passed over (counted),
    and a file a table lists twice is shown once."""
    order = np.random.default_rng([seed, *stream]).permutation(len(pool))
    picked: list[tuple[Sample, np.ndarray]] = []
    seen: set[Path] = set()
    skipped = 0
    for i in order:
        if len(picked) == PER_CLASS:
            break
        if pool[i].path in seen:
            continue
        seen.add(pool[i].path)
        try:
            picked.append((pool[i], decode(pool[i].path, size)))
        except ImageSkipped:
            skipped += 1
    return picked, skipped


def class_names(spec: DatasetSpec, found: Discovered, label: int) -> tuple[str, ...]:
    """The dataset's names for label 1 or 0: the config's lists, else the classes found that map to it."""
    given = spec.positive if label == 1 else spec.negative
    if given or not spec.positive:  # without `positive` (MURA) the classes found carry no name to show
        return tuple(given)
    return tuple(c for c in found.classes if class_label(c, spec) == label)


def _clean(text: str) -> str:
    """A file-name-safe spelling: letters, digits, `.`, `_` and `-`; nothing hidden."""
    return re.sub(r"[^\w.-]", "_", text).lstrip(".") or "_"


def _short_hash(path: Path) -> str:
    return hashlib.blake2b(os.fsencode(path), digest_size=4).hexdigest()


def unique_names(paths: Sequence[Path]) -> list[str]:
    """PNG names, unique and deterministic: the stem, then as many parent folders as it takes
    (CheXpert calls every image `view1_frontal.jpg`), then a short hash of the path."""
    depth = [1] * len(paths)
    names: list[str] = []
    for _ in range(NAME_DEPTH):
        names = [_clean("_".join([*p.parts[-d:-1], p.stem])) for p, d in zip(paths, depth, strict=True)]
        clashes = {n for n, count in Counter(names).items() if count > 1}
        if not clashes:
            break
        depth = [d + 1 if n in clashes else d for n, d in zip(names, depth, strict=True)]
    clashes = {n for n, count in Counter(names).items() if count > 1}
    out = []
    for name, path in zip(names, paths, strict=True):
        if name in clashes or len(name) > MAX_NAME:
            name = f"{name[: MAX_NAME - 9]}-{_short_hash(path)}"
        out.append(name + ".png")
    return out


def _swap_in(work: Path, final: Path) -> None:
    """Replace a previous preview of the dataset (never anything else) with the folder just built."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}-{_short_hash(work)}")
        if (final / MARKER).is_file():
            os.replace(final, old)
        else:
            final.rmdir()  # an empty folder: nothing of anyone's is lost
            old = None
    os.replace(work, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# -- the contact sheet ------------------------------------------------------------------------


def thumb_side(size: int) -> int:
    return min(size, THUMB)


def thumbnail(pixels: np.ndarray) -> Image.Image:
    image = Image.fromarray(pixels)
    side = thumb_side(pixels.shape[0])
    return image if side == pixels.shape[0] else image.resize((side, side), Image.LANCZOS)


def sheet_size(size: int, rows: int, columns: int) -> tuple[int, int]:
    """Wide enough for the longest row (PER_CLASS thumbnails stay under 2000 px at any N), no wider:
    a terminal shows a narrow sheet larger. Each row is a label over its thumbnails."""
    side = thumb_side(size)
    width = max(MIN_WIDTH, 2 * MARGIN + columns * side + (columns - 1) * GAP)
    return width, 2 * MARGIN + HEADING_HEIGHT + rows * (LABEL_HEIGHT + side + GAP)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """Dataset text (names may hold escapes, spelled out) cut with … to the sheet's width."""
    text = printable(text)
    while text and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…"
    return text


def contact_sheet(preview: Preview, thumbs: Sequence[Sequence[Image.Image]]) -> Image.Image:
    width, height = sheet_size(preview.size, len(preview.rows), max(1, *(len(p) for p in thumbs)))
    side = thumb_side(preview.size)
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    usable = width - 2 * MARGIN
    heading = (
        f"{preview.dataset} · {preview.size} px, as training decodes it (before preprocess_input) · seed {preview.seed}"
    )
    draw.text((MARGIN, MARGIN), _fit(draw, heading, _font(16), usable), fill=INK, font=_font(16))
    y = MARGIN + HEADING_HEIGHT
    for row, pictures in zip(preview.rows, thumbs, strict=True):
        draw.text(
            (MARGIN, y + 2), _fit(draw, row.heading(), _font(12), usable), fill=CLASS_INK[row.cls.value], font=_font(12)
        )
        y += LABEL_HEIGHT
        for k, picture in enumerate(pictures):
            sheet.paste(picture.convert("RGB"), (MARGIN + k * (side + GAP), y))
        y += side + GAP
    return sheet


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # type: ignore[return-value]


def save_png_atomic(path: Path, image: Image.Image, summary: dict[str, Any] | None = None) -> None:
    """Temp file in the same folder, fsync, rename: a reader sees the old PNG or the new one."""
    info = PngImagePlugin.PngInfo()
    if summary is not None:
        info.add_itxt(TEXT_KEY, json.dumps(summary))  # ASCII: names with undecodable bytes survive
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            image.save(fh, format="PNG", pnginfo=info)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- reuse ------------------------------------------------------------------------------------


def read_preview(sheet: Path) -> Preview | None:
    """The summary a contact sheet carries, or None for a missing, foreign or damaged file."""
    try:
        with Image.open(sheet) as image:
            image.load()
            text = getattr(image, "text", {}).get(TEXT_KEY)
        return Preview.from_json(json.loads(text)) if text else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def dataset_mtime(root: Path, depth: int = 2) -> float:
    """The newest modification time of the dataset folder and its folders `depth` levels down:
    adding or removing an image in a class or split folder changes it; editing a file in place does not."""
    newest = root.stat().st_mtime
    if depth:
        try:
            with os.scandir(root) as entries:
                folders = [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_dir()]
        except OSError:  # an unreadable folder: training would skip it too
            folders = []
        for folder in folders:
            try:
                newest = max(newest, dataset_mtime(folder, depth - 1))
            except OSError:
                continue
    return newest


def cached_preview(spec: DatasetSpec, size: int, seed: int, out_dir: Path) -> Preview:
    """The preview in `out_dir` when it was made from these settings after the dataset last changed;
    else a new one."""
    if not spec.path.is_dir():
        raise DataError(f"dataset folder not found: {spec.path}")
    sheet = out_dir / f"{spec.name}.png"
    known = read_preview(sheet)
    if (
        known is not None
        and known.fingerprint == fingerprint(spec, size, seed)
        and known.folder.is_dir()
        and sheet.stat().st_mtime > dataset_mtime(spec.path)
    ):
        return known
    return write_preview(spec, size, seed, out_dir)
