"""What each dataset recipe reads from the config and what it assumes when a key is left out.

Kept apart from the recipes themselves so config validation (and `--help`) stays import-light.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KERMANY_PATIENT = r"^((?:NORMAL2-)?IM-\d+|person\d+)"


@dataclass(frozen=True)
class RecipeInfo:
    summary: str
    options: frozenset[str]
    defaults: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()


CLASS_KEYS = frozenset({"positive", "negative", "patient_id"})
ANNOTATION_KEYS = frozenset({"boxes", "masks"})  # a box table or a mask folder: localisation ground truth
FINDING_KEYS = frozenset({"positive", "negative", "uncertain", "views"})  # findings as columns of 1 / 0 / −1 / blank

RECIPES: dict[str, RecipeInfo] = {
    "folder": RecipeInfo(
        "one sub-folder per class, optionally inside train/ val/ test/",
        CLASS_KEYS | ANNOTATION_KEYS,
        required=("positive",),
    ),
    "csv": RecipeInfo(
        "a CSV table of image paths and labels (optional patient and split columns)",
        frozenset({"table", "path_column", "label_column", "patient_column", "split_column", "positive", "negative"})
        | ANNOTATION_KEYS,
        required=("table",),
    ),
    "kermany": RecipeInfo(
        "Kermany chest X-ray: chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}; val/ is merged into train",
        CLASS_KEYS,
        {"positive": ("PNEUMONIA",), "negative": ("NORMAL",), "patient_id": KERMANY_PATIENT},
    ),
    "nih-cardiomegaly": RecipeInfo(
        "NIH ChestX-ray14: Data_Entry_2017.csv, images_0xx/images/, train_val_list.txt / test_list.txt",
        frozenset({"positive", "negative"}),
        {"positive": ("Cardiomegaly",), "negative": ("No Finding",)},
    ),
    "mura": RecipeInfo(
        "MURA v1.1: {train,valid}_image_paths.csv and _labeled_studies.csv; valid/ is the test split",
        frozenset({"body_parts"}),
    ),
    "knee-kl": RecipeInfo(
        "knee KL grades: {train,val,test}/{0,1,2,3,4}; auto_test/ is never used",
        CLASS_KEYS,
        {"positive": ("2", "3", "4"), "negative": ("0", "1")},
    ),
    "osteoporosis": RecipeInfo(
        "knee osteoporosis: class folders such as normal/ osteopenia/ osteoporosis/",
        CLASS_KEYS,
        {"positive": ("osteoporosis",), "negative": ("normal",)},
    ),
    "chexpert": RecipeInfo(
        "CheXpert v1.0 (small or full): train.csv and valid.csv, findings as columns; valid.csv is the test split",
        FINDING_KEYS,
        required=("positive",),
    ),
    "rsna-pneumonia": RecipeInfo(
        "RSNA Pneumonia Detection: stage_2_train_labels.csv and stage_2_train_images/*.dcm; boxes kept",
        frozenset(),
    ),
    "mimic-cxr-jpg": RecipeInfo(
        "MIMIC-CXR-JPG: files/pXX/pSUBJECT/sSTUDY/*.jpg with the -chexpert (or -negbio), -split and -metadata tables",
        FINDING_KEYS | {"labeler"},
        required=("positive",),
    ),
}

RECIPE_KEYS = frozenset().union(*(info.options for info in RECIPES.values()))
