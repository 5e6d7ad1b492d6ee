"""CheXpert, RSNA Pneumonia and MIMIC-CXR-JPG as downloaded: counts under each uncertainty policy and
view filter, computed by hand from the replicas' rows, and never a patient on two sides of a split."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medcam_core.config import DatasetSpec, parse_config
from medcam_core.data.annotations import Box
from medcam_core.data.discovery import Sample, assign_splits
from medcam_core.data.load import LoadedDataset, inspect_dataset
from medcam_core.data.recipes import discover
from medcam_core.errors import ConfigError, DataError
from medcam_core.vocabulary import Uncertain, View
from medcam_tui.cli import main

import replicas

CARDIOMEGALY = {"positive": ["Cardiomegaly"]}


def spec_for(path: Path, recipe: str, **options: object) -> DatasetSpec:
    """Through the config parser, so defaults and validation apply as in a medcam.toml."""
    table = {"name": "d", "path": str(path), "recipe": recipe, **options}
    return parse_config({"datasets": [table]}, file="test.toml").datasets[0]


def split_patients(splits: dict[str, list[str]]) -> None:
    """Fails naming the first patient found in two splits."""
    seen: dict[str, str] = {}
    for name, patients in splits.items():
        for patient in patients:
            assert seen.setdefault(patient, name) == name, f"patient {patient} in {seen[patient]} and {name}"


def no_patient_across_splits(data: LoadedDataset) -> None:
    split_patients({name: split.patients for name, split in data.splits.items()})


def pooled(data: LoadedDataset) -> tuple[int, int, int, int]:
    """(train+val positive, train+val negative, test positive, test negative): validation is carved at random."""
    counts = data.counts()
    pos = counts["train"]["positive"] + counts["val"]["positive"]
    neg = counts["train"]["negative"] + counts["val"]["negative"]
    return pos, neg, counts["test"]["positive"], counts["test"]["negative"]


# CheXpert replica, by hand (replicas.CHEXPERT_TRAIN / CHEXPERT_VALID):
#   train frontal: 7 Cardiomegaly 1.0 (patients 1–6, patient 2 twice), 3 uncertain (7–9), 6 with No Finding
#   (10–15), 4 with neither (16–19); train lateral: patient 1 positive, 7 uncertain, 10 No Finding.
#   valid frontal: 3 positive, 4 No Finding, 1 with neither; valid lateral: 1 positive.
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, (7, 10, 3, 5)),
        ({"uncertain": "ones"}, (10, 10, 3, 5)),
        ({"uncertain": "zeros"}, (7, 13, 3, 5)),
        ({"views": ["lateral"]}, (1, 1, 1, 0)),
        ({"views": "all"}, (8, 11, 4, 5)),
        ({"views": ["frontal", "lateral"], "uncertain": "ones"}, (12, 11, 4, 5)),
        ({"negative": ["No Finding"]}, (7, 6, 3, 4)),
        ({"negative": ["No Finding"], "uncertain": "ones"}, (10, 6, 3, 4)),
        ({"negative": ["No Finding"], "uncertain": "zeros"}, (7, 6, 3, 4)),  # the uncertain lack No Finding
    ],
)
def test_chexpert_counts_follow_the_uncertainty_policy_and_the_views(
    tmp_path: Path, options: dict[str, object], expected: tuple[int, int, int, int]
) -> None:
    root = replicas.chexpert(tmp_path)
    data = inspect_dataset(spec_for(root, "chexpert", **CARDIOMEGALY, **options), 32, seed=3)
    assert pooled(data) == expected
    assert data.skipped == [] and data.leaks == []
    assert all("/valid/" in p for p in data.splits["test"].paths)
    assert not any("/valid/" in p for name in ("train", "val") for p in data.splits[name].paths)
    no_patient_across_splits(data)
    every = {p for split in data.splits.values() for p in split.patients}
    assert every <= {f"patient{n:05d}" for n in [*range(1, 20), *range(64541, 64549)]}


def test_chexpert_notes_say_what_the_policy_and_the_views_left_out(tmp_path: Path) -> None:
    root = replicas.chexpert(tmp_path)
    notes = discover(spec_for(root, "chexpert", **CARDIOMEGALY, negative=["No Finding"]), 0).notes
    assert "4 lateral images left out (views = frontal)" in notes
    assert any(n.startswith('3 images uncertain (-1) for Cardiomegaly: left out (uncertain = "ignore"') for n in notes)
    assert any(n.startswith("5 images without Cardiomegaly = 1 nor No Finding = 1 left out") for n in notes)
    assert any("valid.csv is the test split" in n for n in notes)
    ones = discover(spec_for(root, "chexpert", **CARDIOMEGALY, uncertain="ones", views="all"), 0).notes
    assert '4 images uncertain (-1) for Cardiomegaly: counted positive (uncertain = "ones")' in ones
    assert not any("left out" in n for n in ones)


def test_chexpert_reads_either_release_from_its_folder_or_its_parent(tmp_path: Path) -> None:
    small = replicas.chexpert(tmp_path / "a")
    full = replicas.chexpert(tmp_path / "b", small=False)
    assert full.name == "CheXpert-v1.0"
    for path in (small, small.parent, full, full.parent):
        found = discover(spec_for(path, "chexpert", **CARDIOMEGALY), 0)
        assert Counter((s.split, s.label) for s in found.samples) == {
            ("train", 1): 7,
            ("train", 0): 10,
            ("test", 1): 3,
            ("test", 0): 5,
        }
        assert all(s.path.is_relative_to(path.resolve()) and s.path.is_file() for s in found.samples)
    replicas.chexpert(tmp_path / "a", small=False)  # both releases side by side: which one is meant?
    with pytest.raises(DataError, match="holds both CheXpert-v1.0-small and CheXpert-v1.0; set the dataset path"):
        discover(spec_for(tmp_path / "a", "chexpert", **CARDIOMEGALY), 0)
    with pytest.raises(DataError, match=r"is not CheXpert v1.0: no train.csv"):
        discover(spec_for(tmp_path, "chexpert", **CARDIOMEGALY), 0)
    (full / "valid.csv").unlink()
    alone = discover(spec_for(full, "chexpert", **CARDIOMEGALY), 0)
    assert Counter((s.split, s.label) for s in alone.samples) == {("train", 1): 7, ("train", 0): 10}
    assert "no valid.csv in CheXpert-v1.0: the test split is carved from train by patient too" in alone.notes


def test_chexpert_names_a_finding_it_lacks_and_a_cell_it_cannot_read(tmp_path: Path) -> None:
    root = replicas.chexpert(tmp_path)
    with pytest.raises(DataError) as lacking:
        discover(spec_for(root, "chexpert", positive=["Cardiomegally"]), 0)
    message = str(lacking.value)
    assert "train.csv: no finding column 'Cardiomegally' (from `positive`); its finding columns: No Finding," in message
    assert "Support Devices" in message and "Frontal/Lateral" not in message and "Path" not in message
    with pytest.raises(DataError, match=r"no finding column 'Normal' \(from `negative`\)"):
        discover(spec_for(root, "chexpert", **CARDIOMEGALY, negative=["Normal"]), 0)
    any_case = discover(spec_for(root, "chexpert", positive=["cardiomegaly"], negative=["NO FINDING"]), 0)
    assert Counter(s.label for s in any_case.samples) == {1: 10, 0: 10}

    table = root / "train.csv"
    lines = table.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace(",1.0,", ",maybe,", 1)
    table.write_text("".join(lines))
    with pytest.raises(DataError, match=r"train.csv: row 4, column 'Cardiomegaly': expected 1.0, 0.0, -1.0 or blank"):
        discover(spec_for(root, "chexpert", **CARDIOMEGALY), 0)


def test_chexpert_paths_that_leave_the_folder_or_are_missing_are_skipped_with_a_reason(tmp_path: Path) -> None:
    root = replicas.chexpert(tmp_path)
    replicas.image(tmp_path / "outside.jpg", fmt="JPEG")
    row = replicas.chexpert_row(root.name, "train", (30, 1, "Frontal", "1.0", "", ""))
    escaping = row.replace("train/patient00030/study1/view1_frontal.jpg", "../outside.jpg")
    with (root / "train.csv").open("a") as table:
        table.write(row + escaping)
    found = discover(spec_for(root, "chexpert", **CARDIOMEGALY), 0)
    assert sorted(reason for _, reason in found.skipped) == [
        "listed in train.csv but not on disk",
        "path outside the dataset folder",
    ]
    assert sum(s.label for s in found.samples) == 10  # the 7 + 3 of before, nothing from the two rows


def rsna_samples(root: Path, seed: int = 0) -> list[Sample]:
    found = discover(spec_for(root, "rsna-pneumonia"), seed)
    assign_splits(found.samples, (0.7, 0.15, 0.15), seed)
    return found.samples


def test_rsna_reads_targets_and_boxes_one_dicom_per_patient_without_counting_on_dcm_discovery(
    tmp_path: Path,
) -> None:
    root = replicas.rsna(tmp_path)
    found = discover(spec_for(root, "rsna-pneumonia"), 0)
    assert Counter(s.label for s in found.samples) == {1: 8, 0: 16}
    boxes = {s.patient: s.boxes for s in found.samples}
    assert boxes == {
        **{p: tuple(Box(*b) for b in bs) for p, bs in replicas.RSNA_BOXES.items()},
        **{p: () for p in replicas.RSNA_NEGATIVES},
    }
    assert sum(len(b) for b in boxes.values()) == 12
    assert all(
        s.path.name == f"{s.patient}.dcm" and s.path.parent.name == "stage_2_train_images" for s in found.samples
    )
    assert {"stage_2_test_images/ not used: it has no labels"} <= set(found.notes)
    assert any("8 positive patients carry 12 boxes" in n for n in found.notes)

    for seed in (0, 1, 2):
        samples = rsna_samples(root, seed)
        by_split = {name: [s for s in samples if s.split == name] for name in ("train", "val", "test")}
        assert {name: Counter(s.label for s in group) for name, group in by_split.items()} == {
            "train": {1: 6, 0: 11},
            "val": {1: 1, 0: 3},
            "test": {1: 1, 0: 2},
        }  # 8 and 16 patients cut 70/15/15 by the largest remainder, each split ≥ 1
        split_patients({name: [s.patient for s in group] for name, group in by_split.items()})


def test_rsna_tables_that_disagree_or_point_away_are_refused_or_skipped(tmp_path: Path) -> None:
    root = replicas.rsna(tmp_path)
    table = root / "stage_2_train_labels.csv"
    shipped = table.read_text()
    first = next(iter(replicas.RSNA_BOXES))
    table.write_text(shipped + f"{first},,,,,0\n")
    with pytest.raises(DataError, match=rf"row 30: patient '{first}' has Target 0 here but 1 on row 2"):
        discover(spec_for(root, "rsna-pneumonia"), 0)
    table.write_text(shipped + "abc,1,2,3,4,2\n")
    with pytest.raises(DataError, match=r"row 30, column 'Target': expected 0 or 1, got '2'"):
        discover(spec_for(root, "rsna-pneumonia"), 0)
    table.write_text(shipped + "abc,,2,3,4,1\n")
    with pytest.raises(DataError, match=r"row 30, column 'x': expected a number ≥ 0 for a Target 1 box, got ''"):
        discover(spec_for(root, "rsna-pneumonia"), 0)
    table.write_text(shipped + "abc,1,2,0,4,1\n")
    with pytest.raises(DataError, match=r"row 30, column 'width': expected a number > 0"):
        discover(spec_for(root, "rsna-pneumonia"), 0)

    replicas.dicom(root / "elsewhere.dcm", "elsewhere")
    table.write_text(shipped + "../elsewhere,,,,,0\nnot-downloaded,,,,,0\n,,,,,0\n")
    found = discover(spec_for(root, "rsna-pneumonia"), 0)
    assert len(found.samples) == 24
    assert sorted(reason for _, reason in found.skipped) == [
        "blank patientId",
        "listed in stage_2_train_labels.csv but not on disk",
        "path outside the dataset folder",
    ]


def test_rsna_decoded_and_checked_keeps_every_patient_on_one_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = replicas.rsna(tmp_path / "data")
    data = inspect_dataset(spec_for(root, "rsna-pneumonia"), 32, seed=0)
    assert data.counts() == {
        "train": {"positive": 6, "negative": 11},
        "val": {"positive": 1, "negative": 3},
        "test": {"positive": 1, "negative": 2},
    }
    assert data.skipped == [] and data.leaks == []
    no_patient_across_splits(data)
    assert main(["data", "check", str(root), "--recipe", "rsna-pneumonia", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["datasets"][0]
    assert report["splits"]["test"] == {"positive": 1, "negative": 2, "patients": 3}


# MIMIC-CXR-JPG replica, by hand (replicas.MIMIC_SUBJECTS): frontal (PA/AP) images per official split:
#   train: subjects 1, 2 positive; 5, 6 uncertain (NegBio: 5 positive); 7, 8 (AP), 9, 12 No Finding; 14 neither
#   validate: 3 positive (its second study was never downloaded); 10 No Finding
#   test: 4 positive; 11 No Finding; 13 neither
#   lateral: 1, 2, 3, 4 positive; 5, 6 uncertain; 7 and 9 (LL) No Finding — all train but 3 (val) and 4 (test)
#   other views: subject 16's "AP AXIAL" and blank, both positive, train; subject 15's study has no labels
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, ((2, 5), (1, 1), (1, 2))),
        ({"uncertain": "ones"}, ((4, 5), (1, 1), (1, 2))),
        ({"uncertain": "zeros"}, ((2, 7), (1, 1), (1, 2))),
        ({"labeler": "negbio"}, ((3, 5), (1, 1), (1, 2))),
        ({"negative": ["No Finding"]}, ((2, 4), (1, 1), (1, 1))),
        ({"views": "lateral"}, ((2, 2), (1, 0), (1, 0))),
        ({"views": ["all"]}, ((6, 7), (2, 1), (2, 2))),
    ],
)
def test_mimic_counts_follow_the_official_split_the_policy_the_views_and_the_labeler(
    tmp_path: Path, options: dict[str, object], expected: tuple[tuple[int, int], ...]
) -> None:
    root = replicas.mimic_cxr_jpg(tmp_path)
    data = inspect_dataset(spec_for(root, "mimic-cxr-jpg", **CARDIOMEGALY, **options), 32, seed=0)
    counts = data.counts()
    assert tuple((counts[s]["positive"], counts[s]["negative"]) for s in ("train", "val", "test")) == expected
    assert data.skipped == [] and data.leaks == []
    no_patient_across_splits(data)
    assert all(p.startswith("p100000") for split in data.splits.values() for p in split.patients)


def test_mimic_notes_count_what_was_left_out_and_the_version_folder_is_found(tmp_path: Path) -> None:
    root = replicas.mimic_cxr_jpg(tmp_path)
    for path in (root, root / "2.0.0"):
        notes = discover(spec_for(path, "mimic-cxr-jpg", **CARDIOMEGALY), 0).notes
        assert "8 lateral images left out (views = frontal)" in notes
        assert "2 images of other views (AP AXIAL 1, blank 1) left out (views = frontal)" in notes
        assert "1 images of mimic-cxr-2.0.0-metadata.csv.gz have no file under files/ (a partial download?)" in notes
        assert "1 images whose study has no row in mimic-cxr-2.0.0-chexpert.csv.gz not used" in notes
        assert any(n.startswith("2 images uncertain (-1) for Cardiomegaly: left out") for n in notes)
    with pytest.raises(DataError, match=r"no finding column 'Cardiomegally' .*its finding columns: Atelectasis,"):
        discover(spec_for(root, "mimic-cxr-jpg", positive=["Cardiomegally"]), 0)

    (root / "2.0.0" / "mimic-cxr-2.0.0-split.csv.gz").unlink()
    carved = discover(spec_for(root, "mimic-cxr-jpg", **CARDIOMEGALY), 0)
    assert "no mimic-cxr-2.0.0-split.csv.gz: validation and test are carved by patient" in carved.notes
    assert Counter((s.split, s.label) for s in carved.samples) == {("", 1): 4, ("", 0): 8}
    assign_splits(carved.samples, (0.7, 0.15, 0.15), 0)
    split_patients({n: [s.patient for s in carved.samples if s.split == n] for n in ("train", "val", "test")})


def append_gz(table: Path, line: str) -> None:
    with gzip.open(table, "rt", encoding="utf-8") as handle:
        text = handle.read()
    with gzip.open(table, "wt", encoding="utf-8") as handle:
        handle.write(text + line)


def test_mimic_builds_paths_only_from_ids_shaped_like_mimics(tmp_path: Path) -> None:
    base = replicas.mimic_cxr_jpg(tmp_path) / "2.0.0"
    replicas.image(base / "files" / "p.." / "p../etc" / "s1" / "x.jpg", fmt="JPEG")
    append_gz(base / "mimic-cxr-2.0.0-chexpert.csv.gz", "../etc,1" + ",1.0" * 14 + "\n")
    append_gz(base / "mimic-cxr-2.0.0-metadata.csv.gz", "x,../etc,1,CHEST,PA,24,24\n")
    append_gz(base / "mimic-cxr-2.0.0-split.csv.gz", "x,1,../etc,train\n")
    found = discover(spec_for(base, "mimic-cxr-jpg", **CARDIOMEGALY), 0)
    assert [reason for _, reason in found.skipped] == ["not a MIMIC-CXR id (subject_id, study_id or dicom_id)"]
    append_gz(base / "mimic-cxr-2.0.0-split.csv.gz", "y,1,2,holdout\n")
    with pytest.raises(DataError, match=r"split.csv.gz: row \d+, column 'split': expected train, validate or test"):
        discover(spec_for(base, "mimic-cxr-jpg", **CARDIOMEGALY), 0)


@pytest.mark.parametrize(
    ("options", "key", "expected"),
    [
        ({"recipe": "chexpert", "positive": ["Edema"], "uncertain": "maybe"}, "uncertain", '"ignore"'),
        ({"recipe": "chexpert", "positive": ["Edema"], "views": ["top"]}, "views", '"frontal", "lateral", "all"'),
        ({"recipe": "chexpert", "positive": ["Edema"], "views": []}, "views", "a list of them"),
        ({"recipe": "chexpert", "positive": ["Edema"], "labeler": "negbio"}, "labeler", "not used by recipe"),
        ({"recipe": "mimic-cxr-jpg", "positive": ["Edema"], "labeler": "x"}, "labeler", '"negbio"'),
        ({"recipe": "kermany", "views": "all"}, "views", "not used by recipe 'kermany'"),
        ({"recipe": "rsna-pneumonia", "positive": ["Target"]}, "positive", "not used by recipe 'rsna-pneumonia'"),
        ({"recipe": "chexpert"}, "positive", "missing; expected a non-empty list"),
        ({"recipe": "padchest"}, "recipe", "chexpert, rsna-pneumonia, mimic-cxr-jpg"),
    ],
)
def test_the_new_keys_are_checked_naming_file_key_and_expectation(
    tmp_path: Path, options: dict[str, object], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"datasets": [{"name": "d", "path": str(tmp_path), **options}]}, file="medcam.toml")
    assert info.value.file == "medcam.toml" and info.value.key == f"datasets[0].{key}"
    assert expected in info.value.expected


def test_the_new_keys_become_typed_values_with_stated_defaults(tmp_path: Path) -> None:
    plain = spec_for(tmp_path, "chexpert", **CARDIOMEGALY)
    assert plain.uncertain is Uncertain.IGNORE and plain.views == (View.FRONTAL,)
    chosen = spec_for(tmp_path, "chexpert", **CARDIOMEGALY, uncertain="zeros", views=["lateral", "frontal"])
    assert chosen.uncertain is Uncertain.ZEROS and chosen.views == (View.FRONTAL, View.LATERAL)
    assert spec_for(tmp_path, "chexpert", **CARDIOMEGALY, views=["lateral", "all"]).views == (View.ALL,)
    assert spec_for(tmp_path, "mimic-cxr-jpg", **CARDIOMEGALY, labeler="negbio").labeler == "negbio"


def test_data_check_takes_the_policy_and_the_views_as_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chexpert = replicas.chexpert(tmp_path / "c")
    argv = ["data", "check", str(chexpert.parent), "--recipe", "chexpert", "--positive", "Cardiomegaly"]
    assert main([*argv, "--uncertain", "ones", "--views", "frontal", "lateral", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["datasets"][0]
    splits = report["splits"]
    assert splits["test"] == {"positive": 4, "negative": 5, "patients": 8}
    assert splits["train"]["positive"] + splits["val"]["positive"] == 12
    assert splits["train"]["negative"] + splits["val"]["negative"] == 11
    assert splits["train"]["patients"] + splits["val"]["patients"] == 19  # val carved by patient
    assert report["skipped"] == [] and report["leaks"] == 0

    mimic = replicas.mimic_cxr_jpg(tmp_path / "m")
    argv = ["data", "check", str(mimic), "--recipe", "mimic-cxr-jpg", "--positive", "Cardiomegaly", "--json"]
    assert main([*argv, "--views", "all", "--uncertain", "zeros"]) == 0
    splits = json.loads(capsys.readouterr().out)["datasets"][0]["splits"]
    assert splits == {
        "train": {"positive": 6, "negative": 11, "patients": 10},
        "val": {"positive": 2, "negative": 1, "patients": 2},
        "test": {"positive": 2, "negative": 2, "patients": 3},
    }

    assert main([*argv, "--uncertain", "maybe"]) == 2
    assert 'data check: --uncertain: expected "ignore"' in capsys.readouterr().err
    assert main(["data", "check", str(tmp_path), "--recipe", "rsna-pneumonia", "--views", "all"]) == 2
    assert "--views: not used by --recipe rsna-pneumonia" in capsys.readouterr().err
    assert main(["data", "check", str(chexpert), "--recipe", "chexpert"]) == 2
    assert "--positive: needed by --recipe chexpert" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["data", "check", "--uncertain", "ones"])
    assert refused.value.code == 2 and "describe a PATH" in capsys.readouterr().err


def test_a_job_on_rsna_scores_its_grad_cam_on_the_annotated_boxes(tmp_path: Path) -> None:
    """Trained on DICOMs, the localisation figures come from the labels table's boxes (at the originals'
    64 px while the model sees 32), and the report says so; the chance level is recomputed here."""
    from medcam_core.jobqueue.runner import Runner
    from medcam_core.outputs.report import build_report

    from conftest import tiny_preset, tiny_queue

    root = replicas.rsna_synthetic(tmp_path / "data")
    spec = spec_for(root, "rsna-pneumonia")
    out = tmp_path / "out"
    counts = Runner(tiny_queue((spec,), out, {"standard": tiny_preset(run_eagerly=True)}), []).run()
    assert counts["done"] == 1
    folder = out / "densenet121_d_standard_models"
    gradcam = json.loads((folder / "results" / "metrics.json").read_text())["gradcam"]
    assert gradcam["ground_truth"] == "the dataset's annotated boxes"
    with open(folder / "results" / "predictions.csv") as fh:
        positives = [Path(r["path"]).stem for r in csv.DictReader(fh) if r["split"] == "test" and r["label"] == "1"]
    boxes = {}
    for line in (root / "stage_2_train_labels.csv").read_text().splitlines()[1:]:
        patient, x, y, width, height, target = line.split(",")
        if target == "1":
            boxes[patient] = float(width) * float(height) / 64**2
    figures = gradcam["layers"]["relu"]
    assert figures["n"] == len(positives) > 0
    assert figures["mask_area_share"] == pytest.approx(sum(boxes[p] for p in positives) / len(positives))
    assert 0 <= figures["pointing_game"] <= 1 and 0 <= figures["energy_in_mask"] <= 1
    assert f"(n = {len(positives)} positives with the dataset's annotated boxes)" in build_report(out)


def test_a_folder_dataset_brings_its_own_boxes_table_and_mask_folder(tmp_path: Path) -> None:
    """`boxes` attaches a row's box to its image (several rows, several boxes), skips a row naming no file
    and stops at a bad number; `masks` is left out of the classes and read back at the image's path."""
    from medcam_core.data.ground_truth import Annotation, GroundTruth

    root = tmp_path / "site"
    for cls in ("sick", "well"):
        for i in range(4):
            replicas.image(root / cls / f"{cls}{i}.png", size=40)
    (root / "boxes.csv").write_text(
        "path,x,y,width,height\nsick/sick0.png,1,2,10,20\nsick/sick0.png,20,20,5,5\nsick/sick1.png,0,0,4,4\n"
        "sick/gone.png,0,0,4,4\n../outside.png,0,0,4,4\n"
    )
    mask = np.zeros((40, 40), np.uint8)
    mask[5:15, 8:30] = 255
    (root / "masks" / "sick").mkdir(parents=True)
    Image.fromarray(mask).save(root / "masks" / "sick" / "sick2.png")

    found = discover(spec_for(root, "folder", positive=["sick"], boxes="boxes.csv", masks="masks"), 0)
    by_name = {s.path.name: s for s in found.samples}
    assert len(found.samples) == 8  # masks/ is no class: nothing of it became a negative image
    assert by_name["sick0.png"].boxes == (Box(1, 2, 10, 20), Box(20, 20, 5, 5))
    assert by_name["sick1.png"].boxes == (Box(0, 0, 4, 4),) and by_name["sick2.png"].boxes == ()
    assert sorted(reason for _, reason in found.skipped) == [
        "listed in boxes.csv but not on disk",
        "path outside the dataset folder",
    ]
    assert any("masks/ not used" in note for note in found.notes)

    masked = GroundTruth.for_dataset(spec_for(root, "folder", positive=["sick"], masks="masks"), {})
    assert masked.source == Annotation.MASKS
    np.testing.assert_array_equal(masked.mask_for(root / "sick" / "sick2.png"), mask > 127)
    assert masked.mask_for(root / "sick" / "sick3.png") is None

    (root / "boxes.csv").write_text("path,x,y,width,height\nsick/sick0.png,1,2,-3,20\n")
    with pytest.raises(DataError, match=r"boxes.csv: row 2, column 'width': expected a number > 0 for a box"):
        discover(spec_for(root, "folder", positive=["sick"], boxes="boxes.csv"), 0)
    with pytest.raises(DataError, match=r"masks: no folder 'labels' in"):
        discover(spec_for(root, "folder", positive=["sick"], masks="labels"), 0)
    with pytest.raises(ConfigError, match=r"datasets\[0\].masks: not used by recipe 'kermany'"):
        spec_for(root, "kermany", masks="masks")
