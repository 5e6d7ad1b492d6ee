"""Decode any radiograph a disk holds into a small uint8 grayscale array, or say why not.

PIL rather than tf.image: it reads 8/16-bit, palette, RGBA and CMYK alike, and JPEG `draft`
decodes big files at reduced scale. Each image is decoded and resized once per dataset; the uint8
result (S×S bytes) goes to scratch records the training pipeline reads from.

Pillow's own guard against decompression bombs prints a warning from inside `Image.open` (or
raises without saying the size), so it is switched off here and `decode_bytes` applies the same
limit itself from the header: an image over it is skipped with its size, before any pixel is read.

DICOM (the `DICM` preamble, or a `.dcm`/`.dicom` name) goes through `dicom.py` for its grayscale
pipeline, then is checked and resized exactly as every other image.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from medcam_core.data import dicom_sniff
from medcam_core.data.gray_levels import to_8bit
from medcam_core.data.scratch import RecordFile

MIN_SIDE = 16
MAX_PIXELS = 89_478_485  # Pillow's default limit (about 9459 × 9459), where it used to warn
WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "CMYK", "YCbCr")  # averaging stored values averages the image
Image.MAX_IMAGE_PIXELS = None


class ImageSkipped(Exception):
    """This file is not a usable image; the message is the reason shown to the user."""


def to_gray_uint8(im: Image.Image) -> np.ndarray:
    """Any PIL mode to 8-bit gray; wide (16-bit, float) images are stretched min..max, as a DICOM without VOI."""
    if im.mode in WIDE_MODES:
        arr = np.asarray(im, dtype=np.float64)
        return to_8bit(arr, float(arr.min()), float(arr.max()))
    if im.mode in ("CMYK", "P", "PA", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    if im.mode != "L":
        im = im.convert("L")
    return np.asarray(im, dtype=np.uint8)


def decode(path: Path, size: int) -> np.ndarray:
    """(size, size) uint8, or ImageSkipped with a one-line reason."""
    return decode_bytes(read(path), size, dicom_sniff.named_dicom(Path(path)))


def decode_full(path: Path) -> np.ndarray:
    """The image at its own resolution as 8-bit gray, by the same steps as `decode` (DICOM windowed and
    inverted as the standard says, 16-bit stretched): what Grad-CAM overlays are drawn on."""
    data = read(path)
    if dicom_sniff.named_dicom(Path(path)) or dicom_sniff.has_preamble(data):
        return _dicom_gray(data)
    try:
        with Image.open(io.BytesIO(data)) as im:
            check_size(*im.size)
            im.load()
            return to_gray_uint8(im)
    except UnidentifiedImageError:
        raise ImageSkipped("not a readable image (unknown or corrupt format)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageSkipped(f"cannot decode: {exc}") from None


def original_size(path: Path) -> tuple[int, int]:
    """(width, height) as stored, from the header alone (to scale annotation boxes to the decoded image)."""
    path = Path(path)
    try:
        if dicom_sniff.is_dicom_file(path):
            from medcam_core.data import dicom

            try:
                return dicom.header_size(path)
            except dicom.DicomUnusable as exc:
                raise ImageSkipped(str(exc)) from None
        with Image.open(path) as im:
            return im.size
    except UnidentifiedImageError:
        raise ImageSkipped("not a readable image (unknown or corrupt format)") from None
    except OSError as exc:
        raise ImageSkipped(f"cannot read: {exc.strerror or exc}") from None


def read(path: Path) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageSkipped(f"cannot read: {exc.strerror or exc}") from None
    if not data:
        raise ImageSkipped("empty file (0 bytes)")
    return data


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def decode_bytes(data: bytes, size: int, named_dicom: bool = False) -> np.ndarray:
    """(size, size) uint8 from a file's bytes; `named_dicom` (a `.dcm`/`.dicom` name) reads it as DICOM even
    without the `DICM` preamble."""
    if named_dicom or dicom_sniff.has_preamble(data):
        return _decode_dicom(data, size)
    try:
        with Image.open(io.BytesIO(data)) as im:
            check_size(*im.size)
            if im.format == "JPEG":
                im.draft(im.mode if im.mode in ("L", "RGB") else None, (size, size))
            im.load()
            if im.mode not in REDUCIBLE_MODES:  # wide, "1" and palette images cannot be reduced as stored
                im = Image.fromarray(to_gray_uint8(im))
            return fit(im, size)
    except ImageSkipped:
        raise
    except UnidentifiedImageError:
        raise ImageSkipped("not a readable image (unknown or corrupt format)") from None
    except Image.DecompressionBombError as exc:  # Pillow's guard, should other code switch it back on
        raise ImageSkipped(f"too large: {exc}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageSkipped(f"cannot decode: {exc}") from None


def _dicom_gray(data: bytes) -> np.ndarray:
    """The header is parsed once; its Rows × Columns are checked before any pixel data is decoded.
    pydicom is imported here, on the first DICOM, not when the app starts."""
    from medcam_core.data import dicom

    try:
        ds = dicom.read_image(data)
        check_size(*dicom.size(ds))
        return dicom.to_uint8(ds)
    except dicom.DicomUnusable as exc:
        raise ImageSkipped(str(exc)) from None


def _decode_dicom(data: bytes, size: int) -> np.ndarray:
    return fit(Image.fromarray(_dicom_gray(data)), size)


def check_size(width: int, height: int) -> None:
    if min(width, height) < MIN_SIDE:
        raise ImageSkipped(f"too small ({width}×{height} px)")
    if width * height > MAX_PIXELS:
        raise ImageSkipped(f"too large: {width}×{height} pixels")


def fit(im: Image.Image, size: int) -> np.ndarray:
    """(size, size) gray: box-reduced by a whole factor while over twice the size (cheap and free of
    aliasing), then bilinear. Every decoded image, DICOM or not, ends here."""
    factor = min(im.size) // (2 * size)
    if factor >= 2:
        im = im.reduce(factor)
    gray = Image.fromarray(to_gray_uint8(im))
    return np.asarray(gray.resize((size, size), Image.BILINEAR), dtype=np.uint8)


@dataclass
class Decoded:
    images: RecordFile
    kept: list[int]
    skipped: list[tuple[int, str]]
    hashes: list[str]


def decode_many(
    paths: Sequence[Path],
    size: int,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    scratch: Path | None = None,
) -> Decoded:
    """Decode in parallel (PIL releases the GIL) straight into scratch records, one row per path.

    Rows of skipped files stay blank; `kept` says which rows hold an image, `hashes` their content.
    """
    out = RecordFile(len(paths), (size, size), "uint8", scratch)
    digests = [""] * len(paths)
    kept: list[int] = []
    skipped: list[tuple[int, str]] = []

    def one(i: int) -> tuple[int, str | None]:
        try:
            data = read(paths[i])
            digests[i] = content_hash(data)
            out.write(i, decode_bytes(data, size, dicom_sniff.named_dicom(Path(paths[i])))[None])
            return i, None
        except ImageSkipped as exc:
            return i, str(exc)

    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 2)) as pool:
        for done, (i, reason) in enumerate(pool.map(one, range(len(paths))), start=1):
            if reason is None:
                kept.append(i)
            else:
                skipped.append((i, reason))
            if progress and (done % 64 == 0 or done == len(paths)):
                progress(done, len(paths))
    return Decoded(out, kept, skipped, [digests[i] for i in kept])
