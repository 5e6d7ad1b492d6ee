"""Folder-per-class recipes: the generic one (also osteoporosis') and the public datasets shaped like it."""

from __future__ import annotations

import re
from pathlib import Path

from medcam_core.config import DatasetSpec
from medcam_core.data.discovery import (
    Discovered,
    Sample,
    class_label,
    image_files,
    is_dicom,
    missing_classes,
    split_name,
    subfolders,
)
from medcam_core.errors import DataError


def find_folder(spec: DatasetSpec, ignore: dict[str, str] | None = None) -> Discovered:
    """`<root>/<class>/…` or `<root>/{train,val,test}/<class>/…`; other folders are noted, not read.

    `ignore` names folders a recipe knows to leave out, with the reason shown to the user.
    """
    root = spec.path
    ignore = dict(ignore or {})
    if spec.masks:
        ignore[Path(spec.masks).parts[0]] = f"it holds the lesion masks (masks = {spec.masks!r})"
    found = Discovered([])
    splits: dict[str, Path] = {}
    others: list[str] = []
    children = subfolders(root, found.skipped)
    for child in children:
        name = split_name(child.name)
        if name and name not in splits:
            splits[name] = child
        elif child.name in ignore:
            found.notes.append(f"{child.name}/ not used: {ignore[child.name]}")
        else:
            others.append(child.name)
    if "train" not in splits:
        pools, others = {"": children}, []
    else:
        pools = {split: subfolders(folder, found.skipped) for split, folder in splits.items()}
    if others:
        found.notes.append(f"folder(s) {', '.join(o + '/' for o in others)} beside the split folders not used")
    patient_re = re.compile(spec.patient_id) if spec.patient_id else None
    classes: set[str] = set()
    unused: set[str] = set()
    for split, folders in pools.items():
        for cdir in folders:
            if cdir.name in ignore and split == "":
                continue
            classes.add(cdir.name)
            label = class_label(cdir.name, spec)
            if label is None:
                unused.add(cdir.name)
                continue
            for path in image_files(cdir, found.skipped):
                found.samples.append(Sample(path, label, patient_of(path, patient_re), split))
    missing = missing_classes(spec, classes)
    if missing:
        raise DataError(f"class folder(s) {missing} not found in {root}; found: {sorted(classes) or 'none'}")
    if unused:
        found.notes.append(f"class folder(s) {sorted(unused)} not used: neither in `positive` nor in `negative`")
    found.classes = sorted(classes)
    return found


def patient_of(path: Path, patient_re: re.Pattern[str] | None) -> str:
    """The id the regex captures from the file name; without one, a DICOM's `PatientID` tag (header
    only), else every image is its own patient."""
    if patient_re is None:
        if is_dicom(path):
            from medcam_core.data import dicom  # pydicom only once a DICOM is met

            return dicom.patient_id(path) or str(path)
        return str(path)
    match = patient_re.search(path.name)
    return match.group(1) if match else str(path)


def find_kermany(spec: DatasetSpec) -> Discovered:
    """The official val/ holds 16 images: they join train, and validation is carved by patient."""
    found = find_folder(spec)
    moved = [s for s in found.samples if s.split == "val"]
    for sample in moved:
        sample.split = "train"
    if moved:
        found.notes.append(f"val/ ({len(moved)} images) merged into train; validation is carved from train by patient")
    return found


def find_knee_kl(spec: DatasetSpec) -> Discovered:
    return find_folder(spec, ignore={"auto_test": "it holds the same knees as test/"})
