"""What every recipe shares to find a dataset's images: listing image files, matching class names,
and carving the splits a layout lacks. `medcam_core.data.recipes.discover` runs a dataset's recipe
with these. Synthetic lesion masks (`*.mask.png`) are ground truth, never training images.

Files are told apart by `stat` (links followed), never by opening them: opening a FIFO blocks for
ever. Symlinked files and folders are followed wherever they lead; a link that loops, leads nowhere
or leads to something other than a regular file or folder is skipped with that reason, and so is a
folder medcam itself wrote (its Grad-CAM PNGs would otherwise become training images).

Only a regular file without an image extension is opened, for its first 132 bytes: a DICOM exported
without an extension (or named by its UID, `1.2.840….7`) is known by the `DICM` at byte 128.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from medcam_core.config import DatasetSpec
from medcam_core.data import dicom_sniff
from medcam_core.data.annotations import Box
from medcam_core.data.splits import SPLITS, grouped_stratified_split
from medcam_core.jobqueue.event_log import EVENT_LOG
from medcam_core.jobqueue.lock import LOCK_FILE
from medcam_core.jobqueue.state import PROGRESS_FILE
from medcam_core.outputs.job_folder import FOLDER_GLOB, PARTIAL_DIR, SCRATCH_DIR

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", *dicom_sniff.SUFFIXES}
DICOMDIR = "DICOMDIR: the index of a DICOM folder, not an image"
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
OUTPUT_MARKERS = (PROGRESS_FILE, EVENT_LOG, LOCK_FILE)
JOB_FOLDER = FOLDER_GLOB
WORK_FOLDERS = (PARTIAL_DIR, SCRATCH_DIR)  # jobs in progress; the runner's decoded-image scratch space
OUTPUT_FOLDER = "medcam output folder, not data"
FILE, FOLDER, MISSING = "file", "folder", "not found"
OUTSIDE = "path outside the dataset folder"
SPECIAL_KINDS = (
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


@dataclass
class Sample:
    path: Path
    label: int
    patient: str
    split: str = ""
    boxes: tuple[Box, ...] = ()  # annotated regions, where the recipe brings them


@dataclass
class Discovered:
    """Samples, files left out with a reason each, and dataset-level remarks for the user."""

    samples: list[Sample]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_output_root(path: Path) -> bool:
    """Whether `path` is a folder a queue writes to (it holds a progress file, an event log or a lock)."""
    try:
        return any(name in OUTPUT_MARKERS for name in os.listdir(path))
    except OSError:
        return False


def is_medcam_output(path: Path) -> bool:
    """An output root, a finished job's folder, or a job's work folder: results, never data."""
    return fnmatchcase(path.name, JOB_FOLDER) or path.name in WORK_FOLDERS or is_output_root(path)


def entry_kind(path: Path) -> str:
    """FILE, FOLDER, MISSING, or why `path` is neither: by `stat`, never by opening it."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        if exc.errno == errno.ENAMETOOLONG:
            return f"path too long ({len(str(path))} characters)"
        if os.path.islink(path):
            return "broken symlink"
        return MISSING if exc.errno == errno.ENOENT else f"cannot read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return FOLDER
    return "not a regular file: " + next((name for test, name in SPECIAL_KINDS if test(mode)), "special file")


def _loops(path: Path, walked: tuple[Path, ...]) -> bool:
    """A folder (reached through a link) that holds one of the folders being walked would be walked for ever."""
    target = Path(os.path.realpath(path))
    return any(folder.is_relative_to(target) for folder in walked)


def _entries(folder: Path, skipped: list[tuple[str, str]], walked: tuple[Path, ...]) -> Iterator[tuple[Path, str]]:
    """(path, FILE or FOLDER) for each entry of `folder` that can be read as data, sorted by name;
    the rest goes to `skipped` with why."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        skipped.append((str(folder), f"cannot read: {exc.strerror or exc}"))
        return
    for name in names:
        path = folder / name
        kind = entry_kind(path)
        if kind == FILE:
            yield path, kind
        elif kind != FOLDER:
            skipped.append((str(path), kind))
        elif is_medcam_output(path):
            skipped.append((str(path), OUTPUT_FOLDER))
        elif _loops(path, walked):
            skipped.append((str(path), "symlink loop"))
        else:
            yield path, kind


def subfolders(folder: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """The visible folders in `folder` (class or split folders), sorted; its files are not looked at."""
    entries = _entries(folder, skipped, (Path(os.path.realpath(folder)),))
    return [path for path, kind in entries if kind == FOLDER and not path.name.startswith(".")]


def regular_files(folder: Path, skipped: list[tuple[str, str]], walked: tuple[Path, ...] = ()) -> list[Path]:
    """Every regular file under `folder`, sorted, through links; anything else goes to `skipped` with why."""
    walked = (*walked, Path(os.path.realpath(folder)))
    out = []
    for path, kind in _entries(folder, skipped, walked):
        out.extend([path] if kind == FILE else regular_files(path, skipped, walked))
    return out


def image_files(folder: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """Image files under `folder`, sorted; hidden and non-image files go to `skipped`."""
    out = []
    for path in regular_files(folder, skipped):
        if path.name.endswith(".mask.png"):
            continue
        why = "hidden file" if is_hidden(path.relative_to(folder)) else why_not_image(path)
        if why:
            skipped.append((str(path), why))
        else:
            out.append(path)
    return out


def why_not_image(path: Path) -> str:
    """Why the regular file `path` is not read as an image, or "" when it is one: an image extension, or
    no extension (a digits-only one counts as none) and the `DICM` preamble."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return ""
    if path.name.upper() == "DICOMDIR":
        return DICOMDIR
    if suffix and not suffix[1:].isdigit():
        return f"not an image file extension ({path.suffix})"
    try:
        dicom = dicom_sniff.starts_with_preamble(path)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    return "" if dicom else f"not an image file extension ({path.suffix or 'none'})"


def is_dicom(image: Path) -> bool:
    """Whether a file `image_files` returned is a DICOM: named so, or found by its preamble."""
    suffix = image.suffix.lower()
    return suffix in dicom_sniff.SUFFIXES or suffix not in IMAGE_SUFFIXES


def is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def class_label(name: str, spec: DatasetSpec) -> int | None:
    """1, 0, or None for a class the config leaves out; names match case-insensitively."""
    key = name.casefold()
    if key in {p.casefold() for p in spec.positive}:
        return 1
    if not spec.negative or key in {n.casefold() for n in spec.negative}:
        return 0
    return None


def missing_classes(spec: DatasetSpec, found: Iterable[str]) -> list[str]:
    have = {c.casefold() for c in found}
    return [c for c in (*spec.positive, *spec.negative) if c.casefold() not in have]


def listed_file(root: Path, relative: str) -> Path | str:
    """The regular file `root/relative`, links resolved, or why a table's cell cannot be read as one.

    A table cell is untrusted text: a path leaving `root`, a NUL byte or a special file is never opened.
    """
    if "\0" in relative:
        return "path contains a NUL byte"
    try:
        path = (root / relative).resolve()
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return "symlink loop"
    if not path.is_relative_to(root.resolve()):
        return OUTSIDE
    kind = entry_kind(path)
    return path if kind == FILE else kind


def split_name(value: str) -> str | None:
    return SPLIT_ALIASES.get(value.strip().casefold())


def assign_splits(samples: list[Sample], fractions: tuple[float, float, float], seed: int) -> None:
    """Fill in the splits a layout lacks by carving them, patient-grouped, out of train.

    An official test split is never touched; validation comes from train when absent.
    """
    missing = [name for name in ("val", "test") if not any(s.split == name for s in samples)]
    if not missing and all(s.split for s in samples):
        return
    pool = [s for s in samples if s.split in ("", "train")]
    wanted = ["train", *missing]
    fr = [fractions[SPLITS.index(name)] for name in wanted]
    names = grouped_stratified_split([s.label for s in pool], [s.patient for s in pool], fr, seed, names=wanted)
    for sample, name in zip(pool, names, strict=True):
        sample.split = str(name)
