"""Each public dataset's layout, as downloaded, read by its recipe: counts, labels, patients, splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medcam_core.config import DatasetSpec, parse_config
from medcam_core.data.labels import LabelError, parse_label
from medcam_core.data.load import LoadedDataset, load_dataset
from medcam_core.errors import ConfigError, DataError
from medcam_tui.cli import main

import replicas


def spec_for(path: Path, recipe: str, **options: object) -> DatasetSpec:
    """Through the config parser, so recipe defaults and validation apply as in a medcam.toml."""
    table = {"name": "d", "path": str(path), "recipe": recipe, **options}
    return parse_config({"datasets": [table]}, file="test.toml").datasets[0]


def assert_no_patient_across_splits(data: LoadedDataset) -> None:
    seen: dict[str, str] = {}
    for name, split in data.splits.items():
        for patient in split.patients:
            assert seen.setdefault(patient, name) == name, f"patient {patient} in {seen[patient]} and {name}"


def names(data: LoadedDataset, split: str) -> set[str]:
    return {Path(p).name for p in data.splits[split].paths}


def test_labels_accept_every_spelling_and_name_the_rest() -> None:
    for value, label in [("1", 1), ("0.0", 0), (" Yes ", 1), ("false", 0), ("TRUE", 1), ("no", 0)]:
        assert parse_label(value) == label
    assert parse_label("") is None and parse_label("NaN") is None
    assert parse_label("Effusion", ["Effusion"], ["Normal"]) == 1
    assert parse_label("normal", ["Effusion"], ["Normal"]) == 0
    with pytest.raises(LabelError, match="'0.5'"):
        parse_label("0.5")
    with pytest.raises(LabelError, match=r"listed class \(a, b\)"):
        parse_label("c", ["a"], ["b"])


def test_kermany_keeps_test_and_carves_validation_by_patient(tmp_path: Path) -> None:
    data = load_dataset(spec_for(replicas.kermany(tmp_path), "kermany"), 32, seed=0)
    assert data.counts()["test"] == {"positive": 8, "negative": 8}
    assert all("/test/" in p for p in data.splits["test"].paths)
    train_val = [*data.splits["train"].paths, *data.splits["val"].paths]
    assert len(train_val) == 36 and sum("/val/" in p for p in train_val) == 4  # the 16-image val/ joins train
    assert data.counts()["val"]["positive"] >= 2 and data.counts()["val"]["negative"] >= 2
    patients = set(data.splits["train"].patients) | set(data.splits["val"].patients)
    assert {"person1", "NORMAL2-IM-0001", "IM-0002", "person9"} <= patients
    assert all(p.startswith(("person", "IM-", "NORMAL2-IM-")) for p in patients)
    train = data.splits["train"]
    assert all(("PNEUMONIA" in p) == bool(y) for p, y in zip(train.paths, train.labels, strict=True))
    assert_no_patient_across_splits(data)
    assert any("merged into train" in n for n in data.notes)


def test_nih_reads_findings_patients_and_the_official_split(tmp_path: Path) -> None:
    data = load_dataset(spec_for(replicas.nih(tmp_path), "nih-cardiomegaly"), 32, seed=0)
    assert names(data, "test") == {"00000012_000.png", "00000013_000.png", "00000014_000.png"}
    assert data.counts()["test"] == {"positive": 2, "negative": 1}
    labels = {}
    for split in data.splits.values():
        labels.update({Path(p).name: int(y) for p, y in zip(split.paths, split.labels, strict=True)})
    assert labels["00000001_002.png"] == 1 and labels["00000004_001.png"] == 0
    assert "00000003_000.png" not in labels  # Hernia alone: neither class
    assert len(labels) == 16
    assert_no_patient_across_splits(data)
    first = {p for s in data.splits.values() for p, n in zip(s.patients, s.paths, strict=True) if "00000001_" in n}
    assert first == {"patient1"}
    assert any("1 labelled rows" in n for n in data.notes)
    assert any("1 images with other findings" in n for n in data.notes)

    carved = load_dataset(spec_for(replicas.nih(tmp_path / "nolists", split_lists=False), "nih-cardiomegaly"), 32, 0)
    assert sum(len(s) for s in carved.splits.values()) == 16
    assert_no_patient_across_splits(carved)


def test_mura_filters_body_parts_and_uses_valid_as_test(tmp_path: Path) -> None:
    root = replicas.mura(tmp_path)
    data = load_dataset(spec_for(root, "mura", body_parts=["forearm", "XR_HUMERUS"]), 32, seed=0)
    assert data.counts()["test"] == {"positive": 2, "negative": 2}
    assert all("/valid/" in p for p in data.splits["test"].paths)
    every = [p for s in data.splits.values() for p in s.paths]
    assert len(every) == 2 * 12 and not any("SHOULDER" in p for p in every)
    for split in data.splits.values():
        for path, label in zip(split.paths, split.labels, strict=True):
            assert ("_positive" in path) == bool(label)
    assert_no_patient_across_splits(data)
    assert {"path outside the dataset folder"} == {r for p, r in data.skipped if "outside" in p}
    assert spec_for(root.parent, "mura").body_parts == ()  # pointing at the parent folder works too
    assert len(load_dataset(spec_for(root.parent, "mura"), 32, seed=0).splits["test"]) == 6
    with pytest.raises(DataError, match=r"body part\(s\) \['XR_ELBOW'\] not found"):
        load_dataset(spec_for(root, "mura", body_parts=["elbow"]), 32, seed=0)


def test_knee_kl_grades_two_and_up_are_positive_and_auto_test_is_never_used(tmp_path: Path) -> None:
    root = replicas.knee_kl(tmp_path)
    data = load_dataset(spec_for(root, "knee-kl"), 32, seed=0)
    assert data.counts() == {
        "train": {"positive": 12, "negative": 8},
        "val": {"positive": 6, "negative": 4},
        "test": {"positive": 6, "negative": 4},
    }
    assert not any("auto_test" in p for s in data.splits.values() for p in s.paths)
    assert data.leaks == [] and any("auto_test/ not used" in n for n in data.notes)
    strict = load_dataset(spec_for(root, "knee-kl", positive=["3", "4"]), 32, seed=0)
    assert strict.counts()["train"] == {"positive": 8, "negative": 12}  # grade 2 joins the negatives


def test_osteoporosis_class_mapping_is_configurable(tmp_path: Path) -> None:
    root = replicas.osteoporosis(tmp_path)
    data = load_dataset(spec_for(root, "osteoporosis"), 32, seed=0)
    assert sum(s.counts()["positive"] for s in data.splits.values()) == 12
    assert sum(s.counts()["negative"] for s in data.splits.values()) == 12
    assert any("Osteopenia" in n for n in data.notes)
    wide = load_dataset(spec_for(root, "osteoporosis", positive=["osteopenia", "osteoporosis"]), 32, seed=0)
    assert sum(s.counts()["positive"] for s in wide.splits.values()) == 17


def test_csv_recipe_reads_every_label_spelling_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    root = replicas.csv_dataset(tmp_path)
    options = {"table": "labels.csv", "path_column": "file", "label_column": "diagnosis"}
    data = load_dataset(spec_for(root, "csv", patient_column="patient", split_column="split", **options), 32, 0)
    assert data.counts()["test"] == {"positive": 2, "negative": 2}
    assert sum(len(s) for s in data.splits.values()) == 20
    for split in data.splits.values():
        for path, label in zip(split.paths, split.labels, strict=True):
            assert int(Path(path).stem) % 2 == 1 - int(label)  # even rows are the positive spellings
    assert_no_patient_across_splits(data)
    assert data.skipped_reasons() == {
        "blank label": 2,
        "listed in labels.csv but not on disk": 1,
        "path outside the dataset folder": 1,
    }

    table = root / "labels.csv"
    table.write_text(table.read_text() + "img/000.png,maybe,pt1,\n")
    with pytest.raises(DataError, match=r"labels.csv: row 26, column 'diagnosis': .*got 'maybe'"):
        load_dataset(spec_for(root, "csv", **options), 32, 0)
    with pytest.raises(DataError, match="labels.csv: is not a CSV table with a header row naming path_column 'path'"):
        load_dataset(spec_for(root, "csv", table="labels.csv"), 32, 0)


def test_recipe_options_are_checked_like_any_config_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"datasets\[0\].body_parts: not used by recipe 'kermany'"):
        spec_for(tmp_path, "kermany", body_parts=["forearm"])
    with pytest.raises(ConfigError, match=r"datasets\[0\].table: missing"):
        spec_for(tmp_path, "csv")
    with pytest.raises(ConfigError, match=r"datasets\[0\].recipe: expected one of folder, csv, kermany"):
        spec_for(tmp_path, "padchest")
    assert spec_for(tmp_path, "kermany").positive == ("PNEUMONIA",)


def poison(folder: Path) -> dict[str, str]:
    """Every bad file a disk holds, beside readable oddities; returns file name → expected skip reason."""
    grad = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint8)
    readable = {
        "gray16.png": Image.fromarray(grad.astype(np.uint16) * 250),
        "rgba.png": Image.fromarray(np.stack([grad] * 4, -1)),
        "cmyk.jpg": Image.fromarray(np.stack([grad[::-1]] * 3, -1)).convert("CMYK"),
        "palette.png": Image.fromarray(grad.T).convert("P"),
        "huge.png": Image.fromarray(np.tile(grad, (63, 63))[:4000, :4000]),
        "UPPER.PNG": Image.fromarray(255 - grad),
        "with spaces é ü.png": Image.fromarray(grad[:, ::-1]),
    }
    for name, im in readable.items():
        im.save(folder / name, "JPEG" if name.endswith(".jpg") else "PNG")
    (folder / "empty.png").write_bytes(b"")
    full = (folder / "rgba.png").read_bytes()
    (folder / "truncated.png").write_bytes(full[: len(full) // 2])
    (folder / "text.jpg").write_text("this is not an image")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "._resource.png").write_bytes(b"\0\5\26\7")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "tiny.png")
    return {
        "empty.png": "empty file",
        "truncated.png": "cannot decode",
        "text.jpg": "not a readable image",
        ".DS_Store": "hidden file",
        "._resource.png": "hidden file",
        "tiny.png": "too small",
    }


def test_a_poisoned_folder_loads_what_is_readable_and_counts_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "poisoned"
    for cls in ("normal", "sick"):
        for i in range(8):
            replicas.image(root / cls / f"ok{i}.png")
    expected = poison(root / "sick")
    data = load_dataset(spec_for(root, "folder", positive=["sick"]), 32, seed=0)
    assert sum(s.counts()["positive"] for s in data.splits.values()) == 8 + 7  # all readable oddities load
    skipped = {Path(p).name: r for p, r in data.skipped}
    assert set(skipped) == set(expected)
    for name, reason in expected.items():
        assert skipped[name].startswith(reason), (name, skipped[name])
    assert data.skipped_reasons() == dict(Counter(expected.values()))


def test_duplicates_are_dropped_and_a_leak_is_refused_unless_asked_to_drop(tmp_path: Path) -> None:
    root = replicas.knee_kl(tmp_path)
    test_file = next((root / "test" / "4").iterdir())
    (root / "train" / "4" / "copy_of_test.png").write_bytes(test_file.read_bytes())
    train_file = next((root / "train" / "0").iterdir())
    (root / "train" / "0" / "again.png").write_bytes(train_file.read_bytes())
    graded_3 = next((root / "train" / "3").iterdir())
    (root / "train" / "1" / "regraded.png").write_bytes(graded_3.read_bytes())  # same knee, other label
    with pytest.raises(DataError, match=r"1 leak\(s\).*copy_of_test.png \(train\).*leaks = \"drop\""):
        load_dataset(spec_for(root, "knee-kl"), 32, seed=0)
    data = load_dataset(spec_for(root, "knee-kl", leaks="drop"), 32, seed=0)
    assert data.duplicates == 3 and len(data.leaks) == 1
    assert data.counts()["test"] == {"positive": 6, "negative": 4}  # test untouched
    assert data.counts()["train"] == {"positive": 11, "negative": 8}  # extra copies and both regraded gone
    assert data.skipped_reasons() == {"duplicate": 1, "leak": 1, "conflicting labels": 2}


def test_data_check_reports_counts_skips_and_leaks_with_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = replicas.kermany(tmp_path / "clean")
    assert main(["data", "check", str(clean), "--recipe", "kermany", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["datasets"][0]
    assert report["splits"]["test"] == {"positive": 8, "negative": 8, "patients": 8}
    assert report["leaks"] == 0 and report["duplicates"] == 0 and report["skipped"] == []

    poisoned = replicas.osteoporosis(tmp_path / "poisoned")
    expected = poison(poisoned / "Osteoporosis")
    assert main(["data", "check", str(poisoned), "--recipe", "osteoporosis", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)["datasets"][0]
    assert sorted(Path(s["path"]).name for s in report["skipped"]) == sorted(expected)

    leaky = replicas.knee_kl(tmp_path / "leaky")
    (leaky / "val" / "0" / "leak.png").write_bytes(next((leaky / "test" / "0").iterdir()).read_bytes())
    assert main(["data", "check", str(leaky), "--recipe", "knee-kl"]) == 2
    shown = capsys.readouterr().out
    assert "leaks across splits: 1" in shown and "refused by training" in shown and "error" in shown

    config = tmp_path / "medcam.toml"
    config.write_text(f'[[datasets]]\nname = "k"\npath = "{clean}"\nrecipe = "kermany"\n')
    assert main(["data", "check", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["datasets"][0]["name"] == "k"
    assert main(["data", "check", str(clean), "--recipe", "csv"]) == 2
    assert "--table: needed by --recipe csv" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["data", "check", "--config", str(config), "--max-per-class", "5"])
    assert refused.value.code == 2 and "describe a PATH" in capsys.readouterr().err
