"""Data: the synthetic generator, patient-grouped splits, robust decoding, discovery errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medcam_core.data.decode import ImageSkipped, decode, decode_many
from medcam_core.data.load import load_dataset
from medcam_core.data.recipes import discover
from medcam_core.data.scratch import RecordFile
from medcam_core.data.splits import grouped_stratified_split
from medcam_core.data.synthetic import TASKS, generate, mask_path, render
from medcam_core.errors import DataError
from medcam_core.train.input_pipeline import batches

from conftest import dataset_spec


def test_generator_is_deterministic_and_positives_have_masks(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", tasks=["limb"], per_class=5, size=64, seed=3)
    b = generate(tmp_path / "b", tasks=["limb"], per_class=5, size=64, seed=3)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*.png"))
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    positives = [p for p in (a / "limb" / "fracture").glob("*.png") if not p.name.endswith(".mask.png")]
    assert len(positives) == 5
    for image in positives:
        mask = np.asarray(Image.open(mask_path(image)))
        assert 0 < (mask > 0).mean() < 0.5
    assert not list((a / "limb" / "normal").glob("*.mask.png"))


def test_label_noise_draws_a_share_of_each_class_as_the_other(tmp_path: Path) -> None:
    """The demo's difficulty: each task files about its `label_noise` share of images under the wrong class."""
    root = generate(tmp_path, tasks=["osteoporosis"], per_class=100, size=32, label_noise=True)
    clean = generate(tmp_path / "clean", tasks=["osteoporosis"], per_class=100, size=32)
    folder = root / "osteoporosis"
    positives = [p for p in (folder / "osteoporosis").glob("*.png") if not p.name.endswith(".mask.png")]
    unmasked = [p for p in positives if not mask_path(p).is_file()]
    share = TASKS["osteoporosis"].label_noise
    assert 0.5 * share * 100 <= len(unmasked) <= 2 * share * 100
    for image in unmasked:  # drawn without its lesion: not the image the clean generator draws for that seed
        twin = clean / "osteoporosis" / "osteoporosis" / image.name
        assert image.read_bytes() != twin.read_bytes()
    negatives = sorted((folder / "normal").glob("*.png"))
    differing = sum(n.read_bytes() != (clean / "osteoporosis" / "normal" / n.name).read_bytes() for n in negatives)
    assert 0.5 * share * 100 <= differing <= 2 * share * 100  # negatives drawn with a lesion
    assert not list((folder / "normal").glob("*.mask.png"))


def test_lesion_changes_pixels_inside_its_mask() -> None:
    for task in TASKS.values():
        img, mask = render(task, 96, True, np.random.default_rng(1))
        clean, _ = render(task, 96, False, np.random.default_rng(1))
        diff = np.abs(img.astype(int) - clean.astype(int)) > 20
        assert diff[mask].mean() > 3 * diff[~mask].mean(), task.name


def test_split_keeps_patients_together_and_stratifies() -> None:
    rng = np.random.default_rng(0)
    groups = [f"p{i // 2}" for i in range(400)]
    labels = [int(g[1:]) % 3 == 0 for g in groups]
    names = grouped_stratified_split(labels, groups, (0.7, 0.15, 0.15), seed=1)
    by_patient: dict[str, set[str]] = {}
    for g, n in zip(groups, names, strict=True):
        by_patient.setdefault(g, set()).add(n)
    assert all(len(s) == 1 for s in by_patient.values())
    labels_arr = np.array(labels)
    for split in ("train", "val", "test"):
        share = labels_arr[names == split].mean()
        assert abs(share - labels_arr.mean()) < 0.05
    assert abs((names == "train").mean() - 0.7) < 0.03
    again = grouped_stratified_split(labels, groups, (0.7, 0.15, 0.15), seed=1)
    assert (again == names).all()
    del rng


def _save(path: Path, image: Image.Image, fmt: str | None = None) -> Path:
    image.save(path, fmt)
    return path


def test_decode_reads_every_format_and_skips_bad_files(tmp_path: Path) -> None:
    grad = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint8)
    good = {
        "gray8.png": Image.fromarray(grad),
        "gray16.png": Image.fromarray(grad.astype(np.uint16) * 200 + 1000),
        "rgba.png": Image.fromarray(np.stack([grad] * 4, -1)),
        "palette.png": Image.fromarray(grad).convert("P"),
        "cmyk.jpg": Image.fromarray(np.stack([grad] * 3, -1)).convert("CMYK"),
        "UPPER CASE é.JPG": Image.fromarray(np.stack([grad] * 3, -1)),
        "huge.png": Image.fromarray(np.zeros((2000, 2000), np.uint8)),
    }
    for name, image in good.items():
        fmt = "JPEG" if name.lower().endswith(".jpg") else "PNG"
        _save(tmp_path / name, image, fmt)
        out = decode(tmp_path / name, 32)
        assert out.shape == (32, 32) and out.dtype == np.uint8, name
    wide = decode(tmp_path / "gray16.png", 64)  # same size: no resampling blur
    assert wide.min() == 0 and wide.max() == 255  # 16-bit stretched, not clipped or darkened

    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    full = (tmp_path / "gray8.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(full[: len(full) // 2])
    _save(tmp_path / "tiny.png", Image.fromarray(np.zeros((8, 8), np.uint8)))
    reasons = {}
    for name in ("empty.png", "text.png", "truncated.png", "tiny.png"):
        with pytest.raises(ImageSkipped) as info:
            decode(tmp_path / name, 32)
        reasons[name] = str(info.value)
    assert "empty" in reasons["empty.png"] and "too small" in reasons["tiny.png"]

    paths = [tmp_path / n for n in ("gray8.png", "empty.png", "rgba.png", "text.png")]
    decoded = decode_many(paths, 32)
    assert decoded.images.shape == (4, 32, 32) and decoded.kept == [0, 2]  # one row per path
    assert (decoded.images[[2, 0]] == np.stack([decode(paths[2], 32), decode(paths[0], 32)])).all()
    assert [i for i, _ in decoded.skipped] == [1, 3] and len(set(decoded.hashes)) == 2


def test_dataset_loads_with_patient_grouped_splits(synthetic_root: Path) -> None:
    data = load_dataset(dataset_spec(synthetic_root, "pneumonia"), 32, seed=0)
    total = sum(len(s) for s in data.splits.values())
    assert total == 48
    patients = [set(s.patients) for s in data.splits.values()]
    assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    for split in data.splits.values():
        assert split.images.shape == (len(split), 32, 32)
        assert 0 < split.labels.mean() < 1
    weights = data.class_weight()
    y = data.splits["train"].labels
    assert weights[1] * y.sum() == pytest.approx(weights[0] * (len(y) - y.sum()))


def test_split_folders_keep_official_test_and_carve_validation(tmp_path: Path) -> None:
    for split, n in (("train", 12), ("test", 4)):
        for cls in ("NORMAL", "PNEUMONIA"):
            folder = tmp_path / "chest" / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = np.random.default_rng([i, len(cls), len(split)]).integers(0, 255, (40, 40), np.uint8)
                Image.fromarray(pixels).save(folder / f"person{i}_{cls}.png")
    (tmp_path / "chest" / "train" / "NORMAL" / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "chest" / "train" / "NORMAL" / "notes.txt").write_text("x")
    spec = dataset_spec(tmp_path, "chest", positive=("PNEUMONIA",), patient_id=None)
    data = load_dataset(spec, 32, seed=0)
    assert len(data.splits["test"]) == 8
    assert all("/test/" in p for p in data.splits["test"].paths)
    assert len(data.splits["train"]) + len(data.splits["val"]) == 24
    assert sorted(r for _, r in data.skipped) == ["hidden file", "not an image file extension (.txt)"]


def test_missing_folder_and_single_class_are_data_errors(synthetic_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        discover(dataset_spec(tmp_path, "nowhere"), seed=0)
    with pytest.raises(DataError, match=r"class folder\(s\) \['absent'\]"):
        discover(dataset_spec(synthetic_root, "pneumonia", positive=("absent",)), seed=0)
    single = tmp_path / "single" / "pneumonia"
    single.mkdir(parents=True)
    for image in list((synthetic_root / "pneumonia" / "pneumonia").glob("*.png"))[:10]:
        (single / image.name).write_bytes(image.read_bytes())
    one = replace(dataset_spec(tmp_path, "single"), positive=("pneumonia",))
    with pytest.raises(DataError, match="0 negative image"):
        load_dataset(one, 32, seed=0)


def test_records_live_in_an_unlinked_file_and_read_back_in_any_order(tmp_path: Path) -> None:
    records = RecordFile(5, (3, 2), "float32", tmp_path)
    block = np.arange(5 * 6, dtype=np.float32).reshape(5, 3, 2)
    records.write(1, block[1:4])
    records.write(0, block[:1])
    records.write(4, block[4:])
    assert list(tmp_path.iterdir()) == []  # nothing left behind, even after a kill -9
    assert (records[[4, 0, 1, 2]] == block[[4, 0, 1, 2]]).all()
    assert records[[]].shape == (0, 3, 2)
    assert (records.subset([3, 1])[[1, 0]] == block[[1, 3]]).all()
    with pytest.raises(ValueError, match="does not fit"):
        records.write(4, block[:2])


@pytest.mark.parametrize("n", [2, 5, 9, 13, 16, 23])
def test_batches_share_evenly_among_replicas(n: int) -> None:
    """A mirrored job's batches: the first splits evenly, none leaves a device empty."""
    values = np.arange(n, dtype=np.float32)[:, None]
    replicas = 2
    scored = [b.numpy().ravel() for b in batches(values, None, 5, shuffle=False, seed=0, replicas=replicas)]
    assert sorted(np.concatenate(scored).tolist()) == list(range(n))  # every image scored once
    assert len(scored[0]) % replicas == 0 and min(len(b) for b in scored) >= replicas
    epochs = [
        [b.numpy().ravel() for b in batches(values, None, 5, shuffle=True, seed=s, replicas=replicas)] for s in (1, 2)
    ]
    for epoch in epochs:
        assert all(len(b) % replicas == 0 and len(b) > 0 for b in epoch)
        seen = np.concatenate(epoch)
        assert len(set(seen.tolist())) == len(seen) == n - n % replicas


def test_a_split_smaller_than_the_devices_is_refused() -> None:
    with pytest.raises(ValueError, match="3 images cannot be shared evenly among 2 devices"):
        batches(np.zeros((3, 1), np.float32), None, 8, shuffle=False, seed=0, replicas=2)
    with pytest.raises(ValueError, match="1 images cannot be shared evenly among 2 devices"):
        batches(np.zeros((1, 1), np.float32), None, 8, shuffle=True, seed=0, replicas=2)
