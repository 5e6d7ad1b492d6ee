"""Tiny replicas of the public datasets as downloaded: real folder names, file names and CSV formats,
synthetic pixels (every file distinct, so duplicates and leaks appear only where a test puts them)."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
from PIL import Image

import dicom_files

_counter = itertools.count()
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"  # the RSNA challenge's SOP class


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


CHEXPERT_FINDINGS = (
    "No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,Lung Lesion,Edema,Consolidation,"
    "Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices"
)
CHEXPERT_TRAIN = [  # (patient, study, view, Cardiomegaly, No Finding, Edema) as the cells read
    *[(n, 1, "Frontal", "1.0", "", "") for n in range(1, 7)],
    (2, 2, "Frontal", "1.0", "", "0.0"),
    (1, 1, "Lateral", "1.0", "", ""),
    *[(n, 1, "Frontal", "-1.0", "", "") for n in range(7, 10)],
    (7, 1, "Lateral", "-1.0", "", ""),
    *[(n, 1, "Frontal", "0.0", "1.0", "") for n in range(10, 13)],
    (10, 1, "Lateral", "0.0", "1.0", ""),
    *[(n, 1, "Frontal", "", "1.0", "") for n in range(13, 16)],
    *[(n, 1, "Frontal", "", "", "1.0") for n in range(16, 19)],
    (19, 1, "Frontal", "0.0", "", "-1.0"),
]
CHEXPERT_VALID = [  # valid.csv holds 1.0 / 0.0 only
    *[(n, 1, "Frontal", "1.0", "0.0", "0.0") for n in range(64541, 64544)],
    (64541, 1, "Lateral", "1.0", "0.0", "0.0"),
    *[(n, 1, "Frontal", "0.0", "1.0", "0.0") for n in range(64544, 64548)],
    (64548, 1, "Frontal", "0.0", "0.0", "1.0"),
]


def chexpert_row(release: str, split: str, row: tuple[int, int, str, str, str, str]) -> str:
    patient, study, view, cardiomegaly, no_finding, edema = row
    path = f"{release}/{split}/patient{patient:05d}/study{study}/view{1 + (view == 'Lateral')}_{view.lower()}.jpg"
    cells = {"No Finding": no_finding, "Cardiomegaly": cardiomegaly, "Edema": edema}
    findings = ",".join(cells.get(name, "") for name in CHEXPERT_FINDINGS.split(","))
    projection = "AP" if view == "Frontal" else ""
    return f"{path},Female,68,{view},{projection},{findings}\n"


def chexpert(root: Path, small: bool = True) -> Path:
    """CheXpert-v1.0-small/ (or the full-size CheXpert-v1.0/) with train.csv and valid.csv as shipped."""
    release = "CheXpert-v1.0-small" if small else "CheXpert-v1.0"
    for name, split, rows in (("train.csv", "train", CHEXPERT_TRAIN), ("valid.csv", "valid", CHEXPERT_VALID)):
        lines = [f"Path,Sex,Age,Frontal/Lateral,AP/PA,{CHEXPERT_FINDINGS}\n"]
        for row in rows:
            lines.append(chexpert_row(release, split, row))
            image(root / lines[-1].split(",")[0], fmt="JPEG")
        (root / release / name).write_text("".join(lines))
    return root / release


def dicom(path: Path, patient_id: str, size: int = 24) -> Path:
    """A distinct 8-bit MONOCHROME2 radiograph, as RSNA ships them (PatientID = the file's name)."""
    pixels = np.random.default_rng(next(_counter)).integers(0, 256, (size, size), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    return dicom_files.write(path, pixels, bits_stored=8, sop=SECONDARY_CAPTURE, PatientID=patient_id, Modality="CR")


RSNA_BOXES = {  # positive patient → boxes (x, y, width, height); 8 positives with 12 boxes
    "0004cfab-14fd-4e49-80ba-63a80b6bddd6": [(264.0, 152.0, 213.0, 379.0), (562.0, 152.0, 256.0, 453.0)],
    "00436515-870c-4b36-a041-de91049b9ab4": [(316.0, 318.0, 170.0, 478.0)],
    "00704310-78a8-4b38-8475-49f4573b2dbb": [(323.0, 577.0, 160.0, 104.0), (695.0, 575.0, 162.0, 137.0)],
    "00aecb01-a116-45a2-956c-08d2fa55433f": [(288.0, 322.0, 94.0, 135.0), (547.0, 299.0, 119.0, 165.0)],
    "00c0b293-48e7-4e16-ac76-9269ba535a62": [(306.0, 544.0, 168.0, 244.0)],
    "00f08de1-517e-4652-a04f-d1dc9ee48593": [(181.0, 184.0, 206.0, 506.0), (571.0, 275.0, 230.0, 476.0)],
    "010ccb9f-6d46-4380-af11-84f87397a1b8": [(652.0, 437.0, 161.0, 229.0)],
    "012a5620-d082-4bb8-9b3b-e72d8938000c": [(133.0, 613.0, 275.0, 275.0)],
}
RSNA_NEGATIVES = [f"{k:08x}-0000-4000-8000-{k:012x}" for k in range(1, 17)]


def rsna(root: Path) -> Path:
    """stage_2_train_labels.csv (a row per box), stage_2_train_images/*.dcm and an unlabelled stage_2_test_images/."""
    base = root / "rsna-pneumonia-detection-challenge"
    lines = ["patientId,x,y,width,height,Target\n"]
    for patient, boxes in RSNA_BOXES.items():
        lines += [f"{patient},{x},{y},{w},{h},1\n" for x, y, w, h in boxes]
        dicom(base / "stage_2_train_images" / f"{patient}.dcm", patient)
    for patient in RSNA_NEGATIVES:
        lines.append(f"{patient},,,,,0\n")
        dicom(base / "stage_2_train_images" / f"{patient}.dcm", patient)
    dicom(base / "stage_2_test_images" / "ffffffff-0000-4000-8000-000000000000.dcm", "unlabelled")
    (base / "stage_2_train_labels.csv").write_text("".join(lines))
    return base


def rsna_synthetic(root: Path, per_class: int = 12, size: int = 64) -> Path:
    """The RSNA layout holding synthetic chest films (12-bit MONOCHROME2 DICOMs) whose positives carry
    a drawn lesion, its bounding box in the labels table: a job can learn them and be scored on the box."""
    from medcam_core.data.synthetic import TASKS, render

    base = root / "rsna-pneumonia-detection-challenge"
    rng = np.random.default_rng(7)
    (base / "stage_2_train_images").mkdir(parents=True)
    lines = ["patientId,x,y,width,height,Target\n"]
    for i in range(2 * per_class):
        patient, positive = f"{i:08x}-5a5a-4000-8000-{i:012x}", i % 2 == 0
        pixels, mask = render(TASKS["pneumonia"], size, positive, rng)
        stored = (pixels.astype(np.uint16) << 4) | 0xF  # 12 bits, as a CR stores them, with the window that
        window = {"WindowCenter": 2048, "WindowWidth": 4096}  # shows them as drawn (no per-image stretch)
        dicom_files.write(base / "stage_2_train_images" / f"{patient}.dcm", stored, PatientID=patient, **window)
        if mask is None:
            lines.append(f"{patient},,,,,0\n")
        else:
            rows, cols = np.nonzero(mask)
            x, y = int(cols.min()), int(rows.min())
            lines.append(f"{patient},{x},{y},{int(cols.max()) + 1 - x},{int(rows.max()) + 1 - y},1\n")
    (base / "stage_2_train_labels.csv").write_text("".join(lines))
    return base


MIMIC_FINDINGS = (
    "Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,Lung Lesion,"
    "Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices"
)
MIMIC_SUBJECTS = {  # subject n → (split, Cardiomegaly, No Finding, Edema, views of its images)
    1: ("train", "1.0", "", "", ("PA", "LATERAL")),
    2: ("train", "1.0", "", "", ("PA", "LATERAL")),
    3: ("validate", "1.0", "", "", ("PA", "LATERAL")),
    4: ("test", "1.0", "", "", ("PA", "LATERAL")),
    5: ("train", "-1.0", "", "", ("PA", "LATERAL")),  # NegBio says 1.0
    6: ("train", "-1.0", "", "", ("PA", "LATERAL")),
    7: ("train", "", "1.0", "", ("PA", "LATERAL")),
    8: ("train", "", "1.0", "", ("AP",)),
    9: ("train", "", "1.0", "", ("PA", "LL")),
    10: ("validate", "", "1.0", "", ("PA",)),
    11: ("test", "", "1.0", "", ("PA",)),
    12: ("train", "", "1.0", "", ("PA",)),
    13: ("test", "0.0", "", "1.0", ("PA",)),
    14: ("train", "0.0", "", "1.0", ("PA",)),
    15: ("train", None, "", "", ("PA",)),  # its study has no label row
    16: ("train", "1.0", "", "", ("AP AXIAL", "")),
}
MIMIC_ABSENT = 3  # this subject's second study (a PA, Cardiomegaly 1.0) is listed but was never downloaded


def mimic_ids(n: int, k: int, v: int = 0) -> tuple[str, str, str]:
    """(subject_id, study_id, dicom_id) of subject n's study k, image v, shaped like MIMIC's."""
    return f"{10_000_000 + n}", f"{50_000_000 + 10 * n + k}", f"{n:08x}-{k:08x}-{v:08x}-0d4f6e7a-9b8c7d6e"


def mimic_cxr_jpg(root: Path) -> Path:
    """mimic-cxr-jpg/2.0.0/ with files/ and the four gzipped tables (chexpert, negbio, metadata, split)."""
    base = root / "mimic-cxr-jpg" / "2.0.0"
    header = f"subject_id,study_id,{MIMIC_FINDINGS}\n"
    tables = {
        "chexpert": [header],
        "negbio": [header],
        "metadata": ["dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns\n"],
        "split": ["dicom_id,study_id,subject_id,split\n"],
    }
    studies = [(n, 1, *row) for n, row in MIMIC_SUBJECTS.items()]
    studies.append((MIMIC_ABSENT, 2, "validate", "1.0", "", "", ("PA",)))
    for n, k, split, cardiomegaly, no_finding, edema, views in studies:
        subject, study, _ = mimic_ids(n, k)
        for labeler in ("chexpert", "negbio") if cardiomegaly is not None else ():
            cells = {"Cardiomegaly": "1.0" if (labeler, n) == ("negbio", 5) else cardiomegaly}
            cells.update({"No Finding": no_finding, "Edema": edema})
            findings = ",".join(cells.get(f, "") for f in MIMIC_FINDINGS.split(","))
            tables[labeler].append(f"{subject},{study},{findings}\n")
        for v, view in enumerate(views):
            dicom_id = mimic_ids(n, k, v)[2]
            tables["metadata"].append(f"{dicom_id},{subject},{study},CHEST (PA AND LAT),{view},24,24\n")
            tables["split"].append(f"{dicom_id},{study},{subject},{split}\n")
            if (n, k) != (MIMIC_ABSENT, 2):
                image(base / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}" / f"{dicom_id}.jpg", fmt="JPEG")
    for kind, lines in tables.items():
        with gzip.open(base / f"mimic-cxr-2.0.0-{kind}.csv.gz", "wt", encoding="utf-8") as handle:
            handle.write("".join(lines))
    return base.parent
