"""DICOM radiographs → 8-bit gray, in the standard's order (PS3.3 C.11, PS3.4 N.2): stored values (only
`BitsStored` bits) → modality LUT (`RescaleSlope`/`RescaleIntercept` or a LUT; applied for every
modality, CR included) → VOI (a VOI LUT, else the first window) → MONOCHROME1 / `PresentationLUTShape
INVERSE` inversion → 8 bits. Without a VOI the values are stretched min..max, as 16-bit PNGs are.

pydicom parses and decompresses (its pylibjpeg plugins: libjpeg for JPEG and JPEG-LS, openjpeg for
JPEG 2000; RLE it decodes itself) but applies none of these steps. They are elementwise, so they run
once per stored value in the image's range (at most 65,536 up to 16 bits) and the image is one table
lookup: no full-size float arrays in the decoding threads for the usual gray radiograph. `decode.py`
checks the size from the header first and resizes the result as it resizes every image.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np
from pydicom import Dataset, dcmread, uid
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_windowing, get_decoder, pixel_array
from pydicom.pixels.utils import get_expected_length

from medcam_core.data.dicom_sniff import has_preamble
from medcam_core.data.gray_levels import to_8bit

GRAY = ("MONOCHROME1", "MONOCHROME2")
COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT")  # pydicom returns these as RGB
PIXEL_DATA, UNDEFINED = 0x7FE00010, 0xFFFFFFFF  # the tag; the length of a value ended by a delimiter
UNREADABLE = "not a readable DICOM (no SOP class, no pixel data)"
LUT_LIMIT = 1 << 16  # stored values spanning more than this run through the steps pixel by pixel
PLUGINS = {
    **dict.fromkeys(
        (uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLossless, uid.JPEGLosslessSV1), "pylibjpeg-libjpeg"
    ),
    **dict.fromkeys((uid.JPEGLSLossless, uid.JPEGLSNearLossless), "pylibjpeg-libjpeg or pyjpegls"),
    **dict.fromkeys(uid.JPEG2000TransferSyntaxes, "pylibjpeg-openjpeg"),
}
ENCODINGS = {  # (implicit VR, little endian) of a dataset without file meta → its transfer syntax
    (True, True): uid.ImplicitVRLittleEndian,
    (False, True): uid.ExplicitVRLittleEndian,
    (False, False): uid.ExplicitVRBigEndian,
}

# pydicom warns about the oddities of real files (an invalid UID, a missing delimiter) and logs them too,
# from inside the decoding threads. A file's fate is decided here and shown as its skip reason; the
# details belong in medcam.log, never on a terminal the TUI or a progress bar is drawing on.
warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")
logging.getLogger("pydicom").addHandler(logging.NullHandler())


class DicomUnusable(Exception):
    """This DICOM cannot be shown as one gray image; the message is the reason for the user."""


def patient_id(path: Path) -> str:
    """The `PatientID` tag from the header alone, or "" when it is blank or the header unreadable."""
    try:
        ds = dcmread(path, force=True, stop_before_pixels=True, specific_tags=["PatientID"])
        return str(ds.get("PatientID") or "").strip()
    except Exception:  # a damaged file gets its reason when it is decoded
        return ""


def header_size(path: Path) -> tuple[int, int]:
    """(width, height) from `Columns` and `Rows`, reading no pixel data."""
    try:
        ds = dcmread(path, force=True, stop_before_pixels=True, specific_tags=["Rows", "Columns"])
    except Exception as exc:  # pydicom's parser raises many kinds on damaged input
        raise DicomUnusable(f"truncated or malformed DICOM: {_one_line(exc)}") from None
    return size(ds)


def read_image(data: bytes) -> Dataset:
    """The parsed dataset of a single-frame image this install can decode, its pixel data still encoded."""
    ds = _parse(data)
    if "PixelData" not in ds:
        raise DicomUnusable(_why_no_pixels(ds))
    frames = _integer(ds, "NumberOfFrames", 1)
    if frames > 1:
        raise DicomUnusable(f"multi-frame DICOM ({frames} frames)")
    photometric = str(ds.get("PhotometricInterpretation") or "").strip()
    if photometric not in GRAY + COLOUR:
        raise DicomUnusable(f"unsupported DICOM photometric interpretation ({photometric or 'none'})")
    _check_codec(ds)
    return ds


def _parse(data: bytes) -> Dataset:
    """The whole dataset, with a transfer syntax (a bare one, without file meta, gets its own encoding's)."""
    try:
        ds = dcmread(io.BytesIO(data), force=True)
    except Exception as exc:  # struct.error, IndexError, EOFError, ValueError …: all mean damaged input
        raise DicomUnusable(f"truncated or malformed DICOM: {_one_line(exc)}") from None
    cut = _cut_short(ds)  # first: reading an element converts it, and its declared length is gone
    if not has_preamble(data) and not _sop_class(ds) and "PixelData" not in ds:
        raise DicomUnusable(UNREADABLE)  # any bytes parse as some element when forced
    if cut:
        raise DicomUnusable(f"truncated DICOM: {cut}")
    if "TransferSyntaxUID" not in ds.file_meta:
        if has_preamble(data) or ds.original_encoding not in ENCODINGS:
            raise DicomUnusable("truncated or malformed DICOM: file meta without a transfer syntax")
        ds.file_meta.TransferSyntaxUID = ENCODINGS[ds.original_encoding]
    return ds


def size(ds: Dataset) -> tuple[int, int]:
    """(width, height) as the header says."""
    width, height = _integer(ds, "Columns", 0), _integer(ds, "Rows", 0)
    if not width or not height:
        raise DicomUnusable("DICOM header without Rows and Columns")
    return width, height


def to_uint8(ds: Dataset) -> np.ndarray:
    """(rows, columns) gray, or (rows, columns, 3) for a colour DICOM, as uint8: the full grayscale pipeline."""
    pixels = _pixels(ds)
    bits = _integer(ds, "BitsStored", 0) or pixels.dtype.itemsize * 8
    if pixels.ndim == 3:  # colour: no modality or VOI step applies (PS3.3 C.11.1)
        return to_8bit(pixels, 0, (1 << bits) - 1)
    stored = stored_values(pixels, bits)
    lowest, highest = int(stored.min()), int(stored.max())
    if highest - lowest >= LUT_LIMIT:
        return to_8bit(*grayscale(stored, ds))
    index = stored - stored.dtype.type(lowest) if stored.dtype.kind == "u" else stored.astype(np.int32) - lowest
    present = None  # the stretch without a VOI spans the values present: the domain's ends, unless …
    if "ModalityLUTSequence" in ds:  # … a modality LUT, which need not rise, maps them
        present = np.zeros(highest - lowest + 1, dtype=bool)
        present[index] = True
    table = to_8bit(*grayscale(np.arange(lowest, highest + 1), ds, present))
    return table[index]


def stored_values(pixels: np.ndarray, bits_stored: int) -> np.ndarray:
    """Only the low `BitsStored` bits hold the value (PS3.5 8.1.1); the rest may carry overlays or noise.

    Shifting up and back down in the array's own type clears them and sign-extends signed data.
    """
    unused = pixels.dtype.itemsize * 8 - bits_stored
    return (pixels << unused) >> unused if unused > 0 else pixels


def grayscale(stored: np.ndarray, ds: Dataset, present: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """Modality LUT, VOI and inversion of `stored`: (values, the value shown black, the value shown white).

    `present` marks which of `stored` occur in the image (all when None): without a VOI, the image's own
    range is stretched.
    """
    try:
        values = apply_modality_lut(stored, ds)
        if _has_voi_lut(ds):
            values, white = voi_lut(values, ds)
            black = 0.0
        elif _given(ds, "WindowCenter") and _given(ds, "WindowWidth"):
            black, white = (float(v) for v in apply_windowing(np.array([-np.inf, np.inf]), ds, 0))
            values = apply_windowing(values, ds, 0)
        else:
            seen = values if present is None else values[present]
            black, white = float(seen.min()), float(seen.max())
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, NotImplementedError) as exc:
        raise DicomUnusable(f"unusable DICOM grayscale tags: {_one_line(exc)}") from None
    if _inverted(ds):
        black, white = white, black
    return values, black, white


def voi_lut(values: np.ndarray, ds: Dataset) -> tuple[np.ndarray, float]:
    """The first VOI LUT applied to `values` (rounded, out-of-range ones clamped to its ends), and its white.

    Not pydicom's `apply_voi`: it indexes through an array of the LUT's own type, so an 8-bit LUT longer
    than 256 entries wraps (pydicom 3.0.2), and it reads 8-bit LUT data as 16-bit words where the standard
    packs bytes (PS3.3 C.11.2.1.1). White is the top of the bits the table uses, not always the bits the
    descriptor declares: some CRs declare 16 for 12-bit tables (Horos and Cornerstone read it so too).
    """
    item = ds.VOILUTSequence[0]
    entries, first, depth = (int(v) for v in item.LUTDescriptor)
    entries = entries or (1 << 16)
    data = item.LUTData
    if isinstance(data, bytes):
        packed = depth == 8 and len(data) < 2 * entries
        order = "<" if ds.file_meta.TransferSyntaxUID.is_little_endian else ">"
        table = np.frombuffer(data, dtype=np.uint8 if packed else np.dtype(order + "u2"))[:entries]
    else:
        table = np.atleast_1d(np.asarray(data, dtype=np.int64))[:entries]
    indices = np.clip(np.rint(values) - first, 0, len(table) - 1).astype(np.int64)
    used = max(1, int(table.max()).bit_length())
    return table[indices], float((1 << min(depth, used)) - 1)


def _pixels(ds: Dataset) -> np.ndarray:
    tsyntax = ds.file_meta.TransferSyntaxUID
    if not tsyntax.is_encapsulated:
        expected, held = get_expected_length(ds, "bytes"), len(ds.PixelData)
        if held < expected:
            raise DicomUnusable(f"truncated DICOM: pixel data holds {held} of {expected} bytes")
    # pylibjpeg where it decodes the syntax: pydicom's fallback, Pillow, would trust a damaged codestream's
    # own size (decode.py switches Pillow's pixel limit off) and decode it a second time
    plugin = "pylibjpeg" if "pylibjpeg" in get_decoder(tsyntax).available_plugins else ""
    try:
        return pixel_array(ds, decoding_plugin=plugin)
    except Exception as exc:  # each codec plugin fails in its own way (RuntimeError, ValueError, …)
        raise DicomUnusable(f"cannot decode DICOM pixel data: {_one_line(exc)}") from None


def _check_codec(ds: Dataset) -> None:
    tsyntax = ds.file_meta.TransferSyntaxUID
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError:
        raise DicomUnusable(f"unsupported DICOM transfer syntax ({tsyntax.name})") from None
    if not decoder.is_available:
        raise DicomUnusable(f"DICOM codec missing: {tsyntax.name} needs {PLUGINS.get(tsyntax, 'a pydicom plugin')}")


def _cut_short(ds: Dataset) -> str:
    """Which element the file ends inside, or "": pydicom keeps the bytes there were, short of the length
    the element's header declared. Only the last element can be cut; it is read as raw bytes still."""
    if not ds:
        return ""
    raw = ds.get_item(max(ds.keys()))
    declared, value = getattr(raw, "length", UNDEFINED), getattr(raw, "value", None)
    if not isinstance(value, bytes) or declared == UNDEFINED or len(value) >= declared:
        return ""
    what = "pixel data" if raw.tag == PIXEL_DATA else f"element {raw.tag}"
    return f"{what} holds {len(value)} of {declared} bytes"


def _why_no_pixels(ds: Dataset) -> str:
    name = _sop_class(ds).removesuffix(" Storage")
    if "Rows" in ds or "Image" in name:  # an image's header, cut before (or inside) its pixel data
        return f"truncated DICOM: {name or 'image'} header without pixel data"
    return f"DICOM without image ({name})" if name else UNREADABLE


def _sop_class(ds: Dataset) -> str:
    """The SOP class by name ("Basic Text SR Storage"), its UID when pydicom does not know it, or ""."""
    sop = ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID")
    return sop.name if sop else ""


def _has_voi_lut(ds: Dataset) -> bool:
    items = ds.get("VOILUTSequence")
    return bool(items) and "LUTDescriptor" in items[0] and "LUTData" in items[0]


def _inverted(ds: Dataset) -> bool:
    """MONOCHROME1 shows its lowest value white; DX pairs it with `PresentationLUTShape INVERSE` for
    the same fact (PS3.3 C.8.11.6), so either inverts, and both together invert once."""
    shape = str(ds.get("PresentationLUTShape") or "").strip().upper()
    return ds.PhotometricInterpretation == "MONOCHROME1" or shape == "INVERSE"


def _given(ds: Dataset, keyword: str) -> bool:
    value = ds.get(keyword)
    if isinstance(value, str | MultiValue):
        return len(value) > 0
    return value is not None


def _integer(ds: Dataset, keyword: str, default: int) -> int:
    try:
        return int(ds.get(keyword) or default)
    except (TypeError, ValueError):
        raise DicomUnusable(f"DICOM {keyword} is not a number ({ds.get(keyword)!r})") from None


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
