"""Tiny replicas of the public datasets as downloaded: real folder names, file names and CSV formats,
synthetic pixels (every file distinct, so duplicates and leaks appear only where a test puts them)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PIL import Image

_counter = itertools.count()


def image(path: Path, size: int = 24, fmt: str | None = None) -> Path:
    """A distinct noise image: each call draws new pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(next(_counter)).integers(0, 256, (size, size), dtype=np.uint8)
    Image.fromarray(pixels).save(path, fmt)
    return path


def kermany(root: Path) -> Path:
    """chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}: patients IM-xxxx / NORMAL2-IM-xxxx / personN."""
    base = root / "chest_xray"
    for split, people in (("train", range(1, 9)), ("val", range(9, 10)), ("test", range(20, 24))):
        for n in people:
            for k in (1, 2):
                prefix = "NORMAL2-" if n % 2 else ""
                image(base / split / "NORMAL" / f"{prefix}IM-{n:04d}-{k:04d}.jpeg", fmt="JPEG")
                kind = "bacteria" if n % 2 else "virus"
                image(base / split / "PNEUMONIA" / f"person{n}_{kind}_{10 * n + k}.jpeg", fmt="JPEG")
    return base


NIH_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
)
NIH_ROWS = [  # (image, findings, patient)
    ("00000001_000.png", "Cardiomegaly", 1),
    ("00000001_001.png", "Cardiomegaly|Emphysema", 1),
    ("00000001_002.png", "Cardiomegaly|Effusion", 1),
    ("00000002_000.png", "No Finding", 2),
    ("00000003_000.png", "Hernia", 3),
    ("00000004_000.png", "No Finding", 4),
    ("00000004_001.png", "No Finding", 4),
    ("00000005_000.png", "Cardiomegaly", 5),
    ("00000006_000.png", "No Finding", 6),
    ("00000007_000.png", "Cardiomegaly|Edema", 7),
    ("00000008_000.png", "No Finding", 8),
    ("00000009_000.png", "No Finding", 9),
    ("00000010_000.png", "Cardiomegaly", 10),
    ("00000011_000.png", "No Finding", 11),
    ("00000012_000.png", "Cardiomegaly", 12),
    ("00000013_000.png", "No Finding", 13),
    ("00000014_000.png", "Cardiomegaly", 14),
    ("00000099_000.png", "Cardiomegaly", 99),  # listed, never downloaded
]
NIH_TEST_PATIENTS = {12, 13, 14}


def nih(root: Path, split_lists: bool = True) -> Path:
    """Data_Entry_2017.csv (trailing comma, as shipped), images_001/images and images_002/images."""
    base = root / "nih"
    base.mkdir(parents=True)
    lines = [NIH_HEADER]
    for name, findings, patient in NIH_ROWS:
        lines.append(f"{name},{findings},0,{patient},58,M,PA,2682,2749,0.143,0.143,\n")
        if patient != 99:
            image(base / f"images_00{1 + patient % 2}" / "images" / name)
    (base / "Data_Entry_2017.csv").write_text("".join(lines))
    if split_lists:
        test = [n for n, _, p in NIH_ROWS if p in NIH_TEST_PATIENTS]
        train = [n for n, _, p in NIH_ROWS if p not in NIH_TEST_PATIENTS]
        (base / "test_list.txt").write_text("\n".join(test) + "\n")
        (base / "train_val_list.txt").write_text("\n".join(train) + "\n")
    return base


def mura(root: Path) -> Path:
    """MURA-v1.1 with its four CSVs (no header); XR_SHOULDER is there to be filtered out."""
    base = root / "MURA-v1.1"
    studies = {
        "train": [
            ("XR_FOREARM", 1, 1, True),
            ("XR_FOREARM", 1, 2, False),
            ("XR_FOREARM", 2, 1, False),
            ("XR_FOREARM", 3, 1, True),
            ("XR_HUMERUS", 4, 1, True),
            ("XR_HUMERUS", 5, 1, False),
            ("XR_HUMERUS", 6, 1, False),
            ("XR_HUMERUS", 7, 1, True),
            ("XR_HUMERUS", 8, 1, False),
            ("XR_HUMERUS", 9, 1, True),
            ("XR_SHOULDER", 10, 1, True),
        ],
        "valid": [("XR_FOREARM", 11185, 1, True), ("XR_HUMERUS", 11186, 1, False), ("XR_SHOULDER", 11187, 1, False)],
    }
    for split, rows in studies.items():
        paths, labelled = [], []
        for part, patient, study, positive in rows:
            outcome = "positive" if positive else "negative"
            folder = f"MURA-v1.1/{split}/{part}/patient{patient:05d}/study{study}_{outcome}/"
            labelled.append(f"{folder},{int(positive)}\n")
            for k in (1, 2):
                image(root / folder / f"image{k}.png")
                paths.append(f"{folder}image{k}.png\n")
        if split == "train":
            paths.append("MURA-v1.1/../../outside.png\n")
        (base / f"{split}_image_paths.csv").write_text("".join(paths))
        (base / f"{split}_labeled_studies.csv").write_text("".join(labelled))
    return base


def knee_kl(root: Path) -> Path:
    """{train,val,test,auto_test}/{0..4}/*.png; auto_test repeats test's knees (same files)."""
    base = root / "knee_kl"
    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        for grade in range(5):
            for i in range(n):
                image(base / split / str(grade) / f"9{grade}{i:05d}{'LR'[i % 2]}.png")
    for grade_dir in (base / "test").iterdir():
        for file in grade_dir.iterdir():
            target = base / "auto_test" / grade_dir.name / file.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.read_bytes())
    return base


def osteoporosis(root: Path) -> Path:
    """Class folders with the capitals some downloads use: Normal/ Osteopenia/ Osteoporosis/."""
    base = root / "knee_osteoporosis"
    for cls, n in (("Normal", 12), ("Osteopenia", 5), ("Osteoporosis", 12)):
        for i in range(n):
            image(base / cls / f"{cls[0]}{i}.png")
    return base


def csv_dataset(root: Path) -> Path:
    """labels.csv with every spelling of a label, blanks, a missing file and a path escaping the folder."""
    base = root / "table"
    rows = ["file,diagnosis,patient,split\n"]
    spellings = ["1", "0", "1.0", "0.0", "yes", "no", "true", "false", "Yes", "No"]
    for i, value in enumerate(spellings * 2):
        image(base / "img" / f"{i:03d}.png")
        rows.append(f"img/{i:03d}.png,{value},pt{i // 2},{'test' if i >= 16 else ''}\n")
    image(base / "img" / "blank.png")
    rows += ["img/blank.png,,pt90,\n", "img/nan.png,NaN,pt91,\n"]
    rows += ["img/missing.png,1,pt92,\n", "../outside.png,0,pt93,\n"]
    (base / "labels.csv").write_text("".join(rows))
    return base
