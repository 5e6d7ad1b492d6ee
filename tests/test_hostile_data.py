"""Datasets that fight back: hostile file names, CSV cells and tables, special files, odd images,
and a medcam output folder left inside the data. Real files on disk, the real command line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medcam_core.config import DatasetSpec, parse_config
from medcam_core.data import discovery
from medcam_core.data.decode import ImageSkipped, decode, decode_many
from medcam_core.data.load import load_dataset
from medcam_tui.cli import main

import replicas

ESC = "\x1b"


def data_check(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """`medcam-tui data check` in its own process: a FIFO opened by mistake blocks there, not here."""
    env = {**os.environ, "COLUMNS": "4000", "PYTHONIOENCODING": "utf-8"}
    command = [sys.executable, "-m", "medcam_tui.cli", "data", "check", *args]
    return subprocess.run(command, env=env, capture_output=True, timeout=timeout)


def folder_spec(path: Path) -> DatasetSpec:
    return parse_config({"datasets": [{"name": "d", "path": str(path), "positive": ["sick"]}]}, file="t").datasets[0]


def two_classes(root: Path, n: int = 6) -> Path:
    for cls in ("normal", "sick"):
        for i in range(n):
            replicas.image(root / cls / f"{cls}{i}.png")
    return root


def skipped_by_name(report: dict) -> dict[str, str]:
    return {Path(item["path"]).name: item["reason"] for item in report["skipped"]}


def test_data_check_shows_hostile_file_names_escaped(tmp_path: Path) -> None:
    root = two_classes(tmp_path / "ds")
    hostile = "\x1b[2Jwiped\x1b]0;owned\x07.png"
    (root / "sick" / hostile).write_bytes(b"not an image at all")
    undecodable = os.fsencode(str(root / "sick")) + b"/caf\xe9.png"  # Latin-1 name: no UTF-8 spelling
    with open(undecodable, "wb") as handle:
        handle.write(b"garbage")

    shown = data_check(str(root), "--positive", "sick")
    assert shown.returncode == 1, shown.stderr.decode(errors="replace")
    assert ESC.encode() not in shown.stdout and ESC.encode() not in shown.stderr
    text = shown.stdout.decode()
    assert "\\x1b[2Jwiped\\x1b]0;owned\\x07.png" in text and "caf\\udce9.png" in text

    as_json = data_check(str(root), "--positive", "sick", "--json")
    assert as_json.returncode == 1, as_json.stderr.decode(errors="replace")
    assert ESC.encode() not in as_json.stdout and ESC.encode() not in as_json.stderr
    report = json.loads(as_json.stdout)["datasets"][0]
    assert set(skipped_by_name(report)) == {hostile, "caf\udce9.png"}  # JSON keeps names exact


def test_csv_cells_with_a_nul_byte_or_a_huge_path_skip_their_row(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "table"
    rows = ["path,label\n"]
    for i in range(16):
        replicas.image(root / "img" / f"{i}.png")
        rows.append(f"img/{i}.png,{i % 2}\n")
    (root / "img" / "loop.png").symlink_to("loop.png")
    rows += ["img/bad\x00name.png,1\n", f"img/{'x' * 5000}.png,0\n", "img/loop.png,1\n"]
    (root / "labels.csv").write_text("".join(rows))

    code = main(["data", "check", str(root), "--recipe", "csv", "--table", "labels.csv", "--json"])
    report = json.loads(capsys.readouterr().out)["datasets"][0]
    assert code == 1 and report["errors"] == []
    assert sum(c["positive"] + c["negative"] for c in report["splits"].values()) == 16
    assert report["skipped_reasons"] == {"path contains a NUL byte": 1, "path too long": 1, "symlink loop": 1}
    too_long = [s["reason"] for s in report["skipped"] if s["path"].endswith("labels.csv:19")]
    assert len(too_long) == 1 and too_long[0].startswith("path too long (")


SECRET = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG"


def test_the_table_option_reads_only_a_table_inside_the_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "4000")  # one message, one line
    root = two_classes(tmp_path / "ds")
    (tmp_path / "secret.csv").write_text(SECRET + "\n")
    (root / "notes.txt").write_text(SECRET + "\n")
    (root / "fake.csv").write_text(SECRET + "\nmore,secret\n")
    refused = {
        "../secret.csv": "inside the dataset folder",
        str(tmp_path / "secret.csv"): "inside the dataset folder",
        "notes.txt": "a .csv, .tsv, .csv.gz or .tsv.gz file",
        "absent.csv": "not found",
    }
    for table, expected in refused.items():
        code = main(["data", "check", str(root), "--recipe", "csv", "--table", table])
        out, err = capsys.readouterr()
        assert code == 2 and out == "", table
        assert err.count("\n") == 1 and err.startswith("medcam-tui: error: data check: --table: "), err
        assert expected in err and SECRET not in err and "wJalr" not in err, err

    code = main(["data", "check", str(root), "--recipe", "csv", "--table", "fake.csv"])
    out, err = capsys.readouterr()
    assert code == 2 and "wJalr" not in out + err
    problem = [line for line in out.splitlines() if "fake.csv" in line]
    assert len(problem) == 1, out
    assert "is not a CSV table with a header row naming path_column 'path' and label_column 'label'" in problem[0]


def test_a_fifo_given_as_the_table_is_refused_without_opening_it(tmp_path: Path) -> None:
    root = two_classes(tmp_path / "ds")
    os.mkfifo(root / "labels.csv")
    shown = data_check(str(root), "--recipe", "csv", "--table", "labels.csv", timeout=60)
    assert shown.returncode == 2
    assert shown.stderr.decode().strip().endswith("'labels.csv' cannot be read as a table: not a regular file: FIFO")


@pytest.mark.parametrize("mode", ["1", "P"])
def test_bilevel_and_palette_images_decode_at_a_reduced_size(tmp_path: Path, mode: str) -> None:
    gradient = np.tile(np.linspace(0, 255, 256), (256, 1)).astype(np.uint8)
    dithered = Image.fromarray(gradient).convert(mode)  # Floyd–Steinberg: the gray lives in the dot density
    assert dithered.mode == mode
    dithered.save(tmp_path / "dithered.png")
    out = decode(tmp_path / "dithered.png", 32)  # 256 ≥ 4 × 32: decoded through Image.reduce
    expected = gradient.reshape(32, 8, 32, 8).mean(axis=(1, 3))  # the gray each 8×8 block stands for
    assert out.shape == (32, 32)
    assert np.abs(out[:, 1:-1] - expected[:, 1:-1]).max() < 24
    assert abs(float(out.mean()) - float(gradient.mean())) < 4


def test_an_image_over_the_pixel_limit_is_skipped_quietly(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    side = 9460  # 9460² is just over 89,478,485 pixels, Pillow's default bomb limit; a 1-bit PNG of it is 11 kB
    Image.new("1", (side, side)).save(tmp_path / "huge.png")
    Image.new("1", (64, 64)).save(tmp_path / "small.png")
    assert (tmp_path / "huge.png").stat().st_size < 20_000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageSkipped, match=f"^too large: {side}×{side} pixels$"):
            decode(tmp_path / "huge.png", 32)
        decoded = decode_many([tmp_path / "huge.png", tmp_path / "small.png"], 32)
    assert decoded.kept == [1] and decoded.skipped == [(0, f"too large: {side}×{side} pixels")]
    assert [str(w.message) for w in caught] == [] and capfd.readouterr().err == ""


def test_special_files_are_skipped_with_a_reason_and_never_opened(tmp_path: Path) -> None:
    root = two_classes(tmp_path / "ds")
    sick = root / "sick"
    os.mkfifo(sick / "pipe.png")
    server = socket.socket(socket.AF_UNIX)
    here = Path.cwd()
    os.chdir(sick)  # a socket path must fit in 108 bytes
    try:
        server.bind("sock.png")
    finally:
        os.chdir(here)
    (sick / "null.png").symlink_to("/dev/null")
    (sick / "loop.png").symlink_to("loop.png")
    (sick / "up").symlink_to("..")  # a folder link back to where it lives
    (sick / "gone.png").symlink_to("nowhere.png")
    replicas.image(tmp_path / "elsewhere" / "linked.png")
    replicas.image(tmp_path / "more" / "m0.png")
    replicas.image(tmp_path / "more" / "deeper" / "m1.png")
    (sick / "linked.png").symlink_to(tmp_path / "elsewhere" / "linked.png")
    (sick / "more").symlink_to(tmp_path / "more")
    os.mkfifo(root / "fifo_beside_the_classes")

    shown = data_check(str(root), "--positive", "sick", "--json", timeout=60)
    server.close()
    assert shown.returncode == 1, shown.stderr.decode(errors="replace")
    report = json.loads(shown.stdout)["datasets"][0]
    assert skipped_by_name(report) == {
        "pipe.png": "not a regular file: FIFO",
        "sock.png": "not a regular file: socket",
        "null.png": "not a regular file: character device",
        "loop.png": "symlink loop",
        "up": "symlink loop",
        "gone.png": "broken symlink",
        "fifo_beside_the_classes": "not a regular file: FIFO",
    }
    positives = sum(c["positive"] for c in report["splits"].values())
    assert positives == 6 + 3  # the linked file and the linked folder's two images are read


def output_root(folder: Path, marker: str) -> Path:
    """What a queue leaves: a marker file and job folders full of Grad-CAM PNGs."""
    folder.mkdir(parents=True)
    (folder / marker).write_text("{}")
    for k in range(3):
        replicas.image(folder / "densenet121_d_standard_models" / "gradcam" / f"cam{k}.png")
        replicas.image(folder / ".partial" / "densenet121_d_fast_models" / "gradcam" / f"cam{k}.png")
    return folder


def test_output_folders_inside_a_dataset_are_never_read_as_data(tmp_path: Path) -> None:
    root = two_classes(tmp_path / "ds", n=10)
    before = load_dataset(folder_spec(root), 32, seed=0)
    assert before.skipped == []

    runs = output_root(root / "runs", "events.jsonl")
    locked = output_root(root / "sick" / "out", ".medcam.lock")
    progress = output_root(root / "normal" / "deep" / "results", "densenet121_training_progress.json")
    replicas.image(root / "normal" / "densenet121_x_y_models" / "gradcam" / "c.png")  # a job folder on its own
    replicas.image(root / "sick" / ".scratch" / "s.png")

    after = load_dataset(folder_spec(root), 32, seed=0)
    assert after.counts() == before.counts()
    assert after.patients() == before.patients()
    reasons = {str(Path(p).relative_to(root)): r for p, r in after.skipped}
    assert reasons == {
        name: "medcam output folder, not data"
        for name in ("runs", "sick/out", "normal/deep/results", "normal/densenet121_x_y_models", "sick/.scratch")
    }
    assert all(discovery.is_output_root(folder) for folder in (runs, locked, progress))
    assert not discovery.is_output_root(root) and not discovery.is_output_root(root / "sick" / "sick0.png")
