"""Tiny real DICOM files for tests, written with pydicom; the caller picks the stored values (or takes
`ramp`), so every expected decode can be computed by hand.

pydicom encodes RLE itself and JPEG 2000 through pylibjpeg-openjpeg (at least 32 px a side), but no
JPEG: baseline comes from Pillow's encoder and lossless (process 14, first-order prediction) from
`jpeg_lossless` below. JPEG-LS has no encoder here (pydicom needs pyjpegls for it); `PYDICOM_FILES`
holds the example files installed with pydicom, one of them JPEG-LS with its uncompressed twin.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image
from pydicom import Dataset, FileMetaDataset, dcmwrite, uid
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence

SIDE = 32
PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
DX = uid.DigitalXRayImageStorageForPresentation
CR = uid.ComputedRadiographyImageStorage


def ramp(bits: int = 12, rows: int = SIDE, cols: int = SIDE) -> np.ndarray:
    """Unsigned values from 0 to 2**bits − 1, rising row by row (so every row differs)."""
    top = (1 << bits) - 1
    values = np.round(np.linspace(0, top, rows * cols)).reshape(rows, cols)
    return values.astype(np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32)


def image(
    pixels: np.ndarray,
    bits_stored: int = 12,
    photometric: str = "MONOCHROME2",
    sop: str = DX,
    **tags: object,
) -> Dataset:
    """A single image (several when `pixels` is 3-D gray) with file meta; `tags` by keyword."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = uid.generate_uid()
    ds.Modality = "CR" if sop == CR else "DX"
    ds.PatientID = "P0"
    if pixels.dtype.itemsize == 4:  # beyond `set_pixel_data` (8 and 16 bits only)
        _set_32bit(ds, pixels, bits_stored, photometric)
    else:
        ds.set_pixel_data(pixels, photometric, bits_stored)
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    return ds


def _set_32bit(ds: Dataset, pixels: np.ndarray, bits_stored: int, photometric: str) -> None:
    ds.file_meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, bits_stored, bits_stored - 1
    ds.PixelRepresentation = int(pixels.dtype.kind == "i")
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()


def save(ds: Dataset, path: Path, preamble: bool = True) -> Path:
    """As a DICOM file (preamble, `DICM`, file meta), or without: a bare implicit-VR dataset."""
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:
        del ds.file_meta
        dcmwrite(path, ds, implicit_vr=True, little_endian=True)
    return path


def write(path: Path, pixels: np.ndarray, **options: Any) -> Path:
    return save(image(pixels, **options), path)


def with_noise_above(ds: Dataset, bits_stored: int, seed: int = 0) -> Dataset:
    """Random bits in the unused high bits of each value (overlays and vendors leave them so)."""
    pixels = ds.pixel_array
    noise = np.random.default_rng(seed).integers(1, 1 << (pixels.dtype.itemsize * 8 - bits_stored), pixels.shape)
    ds.PixelData = (pixels | (noise << bits_stored).astype(pixels.dtype)).tobytes()
    return ds


def lut_sequence(table: np.ndarray, first: int, depth: int, packed: bool = False) -> Sequence:
    """A (VOI or modality) LUT Sequence of one LUT: OW data in 16-bit words, or bytes when `packed`."""
    item = Dataset()
    item.LUTDescriptor = [len(table) % (1 << 16), first, depth]
    item.LUTData = np.asarray(table, dtype="u1" if packed else "<u2").tobytes()
    return Sequence([item])


def compressed(ds: Dataset, syntax: str, **options: object) -> Dataset:
    """RLE Lossless or JPEG 2000 by pydicom's own encoders (options as `Dataset.compress` takes them)."""
    ds.compress(syntax, **options)
    return ds


def encapsulated(ds: Dataset, codestream: bytes, syntax: str) -> Dataset:
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate([codestream])
    ds["PixelData"].VR = "OB"
    return ds


def jpeg_baseline(pixels: np.ndarray, quality: int = 90) -> bytes:
    """8-bit gray JPEG by Pillow (process 1)."""
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


def jpeg_lossless(pixels: np.ndarray, precision: int) -> bytes:
    """A JPEG lossless codestream (ITU T.81 annex H) predicting each value from its left neighbour
    (the first row's first from 2**(precision−1), each row's first from above); one Huffman table gives
    every difference category 0..16 a 5-bit code, enough for a test and valid for every decoder."""
    x = pixels.astype(np.int64)
    prediction = np.empty_like(x)
    prediction[0, 0] = 1 << (precision - 1)
    prediction[0, 1:] = x[0, :-1]
    prediction[1:, 0] = x[:-1, 0]
    prediction[1:, 1:] = x[1:, :-1]
    differences = (x - prediction) % (1 << 16)
    bits = []
    for diff in np.where(differences > 1 << 15, differences - (1 << 16), differences).ravel().tolist():
        category = abs(diff).bit_length()
        bits.append(format(category, "05b"))
        if 0 < category < 16:
            bits.append(format(diff if diff > 0 else diff - 1 + (1 << category), f"0{category}b"))
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)
    scan = int(stream, 2).to_bytes(len(stream) // 8, "big").replace(b"\xff", b"\xff\x00")
    lengths = [0, 0, 0, 0, 17, *[0] * 11]
    rows, cols = pixels.shape
    return b"".join(
        [
            b"\xff\xd8",
            _segment(0xFFC3, struct.pack(">BHHB", precision, rows, cols, 1) + bytes([1, 0x11, 0])),
            _segment(0xFFC4, bytes([0, *lengths, *range(17)])),
            _segment(0xFFDA, bytes([1, 1, 0, 1, 0, 0])),  # one component, predictor 1, point transform 0
            scan,
            b"\xff\xd9",
        ]
    )


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def multiframe(path: Path, frames: int = 3) -> Path:
    return write(path, np.stack([ramp()] * frames))


def without_image(path: Path, sop: str) -> Path:
    """A non-image object (a structured report, a presentation state): header, no pixel data."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = uid.generate_uid()
    ds.PatientID = "P0"
    return save(ds, path)


def truncated(path: Path, source: Path, keep: int) -> Path:
    """The first `keep` bytes of `source` (a negative `keep` drops that many from the end)."""
    path.write_bytes(source.read_bytes()[:keep])
    return path
