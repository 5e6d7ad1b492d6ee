"""Whether a file is DICOM, from its name or its 132-byte preamble, without importing pydicom (a
second at start-up): discovery and the decoder's dispatch need only this; pydicom is imported when a
DICOM is actually read (`medcam_core.data.dicom`)."""

from __future__ import annotations

from pathlib import Path

SUFFIXES = (".dcm", ".dicom")
PREAMBLE, PREAMBLE_AT = b"DICM", 128  # PS3.10 7.1: 128 bytes of preamble, then the four letters
HEADER_BYTES = PREAMBLE_AT + len(PREAMBLE)


def has_preamble(head: bytes) -> bool:
    return head[PREAMBLE_AT:HEADER_BYTES] == PREAMBLE


def named_dicom(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def starts_with_preamble(path: Path) -> bool:
    """Reads the first 132 bytes only (OSError when the file cannot be read)."""
    with open(path, "rb") as f:
        return has_preamble(f.read(HEADER_BYTES))


def is_dicom_file(path: Path) -> bool:
    return named_dicom(path) or starts_with_preamble(path)
