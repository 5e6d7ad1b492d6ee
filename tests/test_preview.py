"""`data check --preview` and the TUI's data screen show the pixels training would see: the same
picks of discovery and split, the training decoder's output byte for byte, names that never clash."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console
from textual.widgets import Static

from medcam_core.config import DatasetSpec, parse_config
from medcam_core.data.decode import decode
from medcam_core.data.preview import (
    PER_CLASS,
    Preview,
    PreviewClass,
    cached_preview,
    read_preview,
    sheet_size,
    unique_names,
    write_preview,
)
from medcam_core.errors import DataError
from medcam_core.jobqueue.event_log import EventLog
from medcam_core.jobqueue.runner import Runner
from medcam_tui.app import MedcamApp
from medcam_tui.cli import main
from medcam_tui.screens.data import DataScreen
from medcam_tui.widgets.queue_table import QueueTable

import replicas
from conftest import TINY, tiny_preset, tiny_queue
from test_tui import wait_for

SIDE = 40  # source images larger than TINY, so the decoder really resizes


def spec_of(path: Path, name: str = "ds", **table: object) -> DatasetSpec:
    """A dataset as a config file gives it (recipe defaults filled in)."""
    return parse_config({"datasets": [{"name": name, "path": str(path), **table}]}).datasets[0]


def kermany_spec(root: Path) -> DatasetSpec:
    return spec_of(replicas.kermany(root), "kermany", recipe="kermany")


def sixteen_bit(root: Path, per_class: int = 5) -> Path:
    """Class folders of 16-bit gray PNGs with a known range each, so the stretch to 8 bits is checkable."""
    rng = np.random.default_rng(7)
    for cls in ("sick", "well"):
        (root / cls).mkdir(parents=True)
        for k in range(per_class):
            wide = rng.integers(1000 + 100 * k, 40000 + 1000 * k, (TINY, TINY)).astype(np.uint16)
            Image.fromarray(wide).save(root / cls / f"img{k}.png")
    return root


def chexpert_like(root: Path, patients: int) -> Path:
    """Every image is `view1_frontal.png`, as in CheXpert: only the folders above tell them apart."""
    for cls in ("Cardiomegaly", "Normal"):
        for n in range(patients):
            replicas.image(root / cls / f"patient{n:05d}" / "study1" / "view1_frontal.png", size=SIDE)
    return root


def written_pixels(preview: Preview) -> dict[Path, tuple[np.ndarray, Path]]:
    """Each PNG written, its pixels and the source it says it came from."""
    out = {}
    for row in preview.rows:
        for file, source in zip(row.files, row.sources, strict=True):
            out[preview.folder / file] = (np.asarray(Image.open(preview.folder / file)), Path(source))
    return out


def test_preview_pixels_are_exactly_what_the_training_decoder_gives(tmp_path: Path) -> None:
    spec = kermany_spec(tmp_path / "data")
    made = write_preview(spec, TINY, 42, tmp_path / "pv")
    pixels = written_pixels(made)
    assert len(pixels) == made.written == 52  # the replica holds 52 images, all fewer than 16 per row
    for png, (got, source) in pixels.items():
        assert got.dtype == np.uint8 and got.shape == (TINY, TINY)
        np.testing.assert_array_equal(got, decode(source, TINY))
        split, cls = png.relative_to(made.folder).parts[:2]
        assert cls == ("positive" if source.parent.name == "PNEUMONIA" else "negative")
        if split == "test":  # the official test split is kept as it is
            assert source.parts[-3] == "test"
    assert sorted(p.relative_to(made.folder).as_posix() for p in made.folder.rglob("*.png")) == sorted(
        f for row in made.rows for f in row.files
    )


def test_sixteen_bit_images_are_stretched_min_to_max_as_training_does(tmp_path: Path) -> None:
    root = sixteen_bit(tmp_path / "wide")
    made = write_preview(spec_of(root, positive=["sick"]), TINY, 1, tmp_path / "pv")
    assert made.written == 10
    for got, source in written_pixels(made).values():
        wide = np.asarray(Image.open(source)).astype(np.float64)
        lo, hi = wide.min(), wide.max()
        by_hand = np.floor((wide - lo) * 255.0 / (hi - lo) + 0.5).astype(np.uint8)  # same size: no resize
        np.testing.assert_array_equal(got, by_hand)


def test_at_most_sixteen_per_split_and_class_with_unique_deterministic_names(tmp_path: Path) -> None:
    root = chexpert_like(tmp_path / "chexpert", patients=30)
    spec = spec_of(root, positive=["Cardiomegaly"], patient_id=r"^(patient\d+)")
    first = write_preview(spec, TINY, 3, tmp_path / "a")
    again = write_preview(spec, TINY, 3, tmp_path / "b")
    assert [r.files for r in first.rows] == [r.files for r in again.rows]
    by_split = {(r.split, r.cls): r for r in first.rows}
    assert by_split["train", PreviewClass.POSITIVE].available == 21  # 70 % of 30 patients
    for row in first.rows:
        assert len(row.files) == min(PER_CLASS, row.available)
        names = [Path(f).name for f in row.files]
        assert len(set(names)) == len(names)
        assert all(re.fullmatch(r"patient\d{5}_study1_view1_frontal\.png", n) for n in names), names
    other_seed = write_preview(spec, TINY, 4, tmp_path / "c")
    assert [r.files for r in other_seed.rows] != [r.files for r in first.rows]


def test_names_fall_back_to_a_hash_and_never_hold_control_characters(tmp_path: Path) -> None:
    clash = [Path(f"/{top}/x/y/z/w/img.png") for top in ("a", "b")]
    names = unique_names([*clash, Path("/c/evil\x1b[2J name.png"), Path("/c/.hidden.png")])
    assert len(set(names)) == 4
    assert names[0].startswith("y_z_w_img-") and names[0] != names[1]
    assert names[2] == "evil__2J_name.png" and names[3] == "hidden.png"
    assert unique_names(clash) == names[:2]  # deterministic


def test_undecodable_picks_are_passed_over_and_counted(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    for split, count in (("train", 12), ("val", 1), ("test", 1)):
        for k in range(count):
            replicas.image(root / split / "sick" / f"ok{k}.png", size=SIDE)
            replicas.image(root / split / "well" / f"ok{k}.png", size=SIDE)
    for k in range(5):
        (root / "train" / "sick" / f"bad{k}.png").write_bytes(b"not an image at all")
    made = write_preview(spec_of(root, positive=["sick"]), TINY, 0, tmp_path / "pv")
    sick = next(r for r in made.rows if (r.split, r.cls) == ("train", PreviewClass.POSITIVE))
    assert (sick.available, len(sick.files), sick.skipped) == (17, 12, 5)
    assert all(Path(source).name.startswith("ok") for source in sick.sources)
    assert sum(r.skipped for r in made.rows) == 5


def test_contact_sheet_has_the_expected_size_and_the_decoded_pixels(tmp_path: Path) -> None:
    root = chexpert_like(tmp_path / "chexpert", patients=30)  # 21 train images per class: 16 shown
    made = write_preview(spec_of(root, positive=["Cardiomegaly"]), TINY, 42, tmp_path / "pv")
    sheet = np.asarray(Image.open(made.sheet))
    # 16 thumbnails of 32 px with 4 px gaps and 8 px margins; heading 26 px; 6 rows of label 18 + 32 + 4
    assert sheet.shape == (8 + 26 + 6 * (18 + 32 + 4) + 8, 8 + 16 * 32 + 15 * 4 + 8, 3)
    first = np.asarray(Image.open(made.folder / made.rows[0].files[0]))
    top = 8 + 26 + 18
    np.testing.assert_array_equal(sheet[top : top + TINY, 8 : 8 + TINY, 0], first)  # gray: R = G = B
    assert sheet_size(224, 6, PER_CLASS)[0] < 2000 and sheet_size(1024, 6, PER_CLASS) == sheet_size(224, 6, PER_CLASS)
    assert read_preview(made.sheet) == made  # the sheet carries its summary


def test_a_fresh_sheet_is_reused_and_a_changed_dataset_rebuilds_it(tmp_path: Path) -> None:
    spec = kermany_spec(tmp_path / "data")
    made = cached_preview(spec, TINY, 42, tmp_path / "pv")
    stamp = made.sheet.stat().st_mtime_ns
    assert cached_preview(spec, TINY, 42, tmp_path / "pv") == made
    assert made.sheet.stat().st_mtime_ns == stamp  # not written again
    assert cached_preview(spec, 48, 42, tmp_path / "pv").size == 48  # another size: rebuilt
    replicas.image(spec.path / "test" / "NORMAL" / "IM-0099-0001.jpeg", fmt="JPEG")
    later = time.time() + 5
    os.utime(spec.path / "test" / "NORMAL", (later, later))
    rebuilt = cached_preview(spec, 48, 42, tmp_path / "pv")
    assert sum(r.available for r in rebuilt.rows) == 53
    assert not list((tmp_path / "pv").glob(".*"))  # no temp or old folders left behind


def test_a_rebuilt_preview_leaves_no_stale_images_and_foreign_folders_are_kept(tmp_path: Path) -> None:
    root = chexpert_like(tmp_path / "chexpert", patients=6)
    out = tmp_path / "pv"
    write_preview(spec_of(root, positive=["Cardiomegaly"]), TINY, 0, out)
    fewer = write_preview(spec_of(root, positive=["Cardiomegaly"], max_per_class=2), TINY, 0, out)
    assert len(list(fewer.folder.rglob("*.png"))) == fewer.written == 4
    (out / "other").mkdir()
    (out / "other" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="was not written by a preview"):
        write_preview(spec_of(root, "other", positive=["Cardiomegaly"]), TINY, 0, out)
    assert (out / "other" / "notes.txt").read_text() == "mine"
    with pytest.raises(DataError, match="inside dataset"):
        write_preview(spec_of(root, positive=["Cardiomegaly"]), TINY, 0, root / "previews")


def test_cli_preview_writes_sheets_and_reports_them_in_json(tmp_path: Path, capsys) -> None:
    root = replicas.kermany(tmp_path / "data")
    out = tmp_path / "pv"
    code = main(["data", "check", str(root), "--recipe", "kermany", "--preview", str(out), "--size", "32", "--json"])
    assert code == 0
    (entry,) = json.loads(capsys.readouterr().out)["datasets"]
    shown = entry["preview"]
    assert shown["sheet"] == str(out / "chest_xray.png") and Path(shown["sheet"]).is_file()
    assert shown["images"] == len(list(Path(shown["folder"]).rglob("*.png"))) == 52 and shown["size"] == 32
    assert Image.open(shown["sheet"]).size == (560, 366)  # 14 thumbnails at most: the heading sets the width


def test_cli_preview_of_a_config_keeps_the_checks_exit_status(tmp_path: Path, capsys, monkeypatch) -> None:
    root = replicas.kermany(tmp_path / "data")
    toml = tmp_path / "medcam.toml"
    toml.write_text(
        f'[[datasets]]\nname = "pneumonia"\npath = "{root}"\nrecipe = "kermany"\n'
        f'[[datasets]]\nname = "gone"\npath = "{tmp_path / "missing"}"\npositive = ["x"]\n'
    )
    monkeypatch.setenv("COLUMNS", "300")
    code = main(["data", "check", "--config", str(toml), "--preview", str(tmp_path / "pv"), "--size", "16"])
    out = capsys.readouterr().out
    assert code == 2  # the missing dataset is the check's error; the preview changes no exit status
    assert f"contact sheet {tmp_path / 'pv' / 'pneumonia.png'}" in out
    assert "dataset folder not found" in out and "preview not written: the dataset could not be read" in out
    assert Image.open(tmp_path / "pv" / "pneumonia.png").size == (560, 8 + 26 + 6 * (18 + 16 + 4) + 8)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--preview", "PV", "--size", "8"], "argument --size: expected an integer from 16 to 1024"),
        (["--preview", "PV", "--size", "2048"], "argument --size: expected an integer from 16 to 1024"),
        (["--size", "64"], "--size is the --preview image size; give --preview DIR too"),
    ],
)
def test_cli_refuses_a_size_out_of_range_or_without_preview(tmp_path: Path, capsys, extra, message) -> None:
    root = replicas.kermany(tmp_path / "data")
    argv = ["data", "check", str(root), "--recipe", "kermany", *[str(tmp_path / a) if a == "PV" else a for a in extra]]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "PV").exists()


def test_cli_refuses_a_preview_folder_inside_the_dataset_or_a_file(tmp_path: Path, capsys) -> None:
    root = replicas.kermany(tmp_path / "data")
    assert main(["data", "check", str(root), "--recipe", "kermany", "--preview", str(root / "pv")]) == 2
    assert "lies inside dataset" in capsys.readouterr().err and not (root / "pv").exists()
    (tmp_path / "file").write_text("")
    assert main(["data", "check", str(root), "--recipe", "kermany", "--preview", str(tmp_path / "file")]) == 2
    assert "--preview: expected a folder" in capsys.readouterr().err


def test_building_a_preview_never_imports_tensorflow(tmp_path: Path) -> None:
    root = replicas.kermany(tmp_path / "data")
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "import medcam_tui.screens.data\n"
        "from medcam_core.config import parse_config\n"
        "from medcam_core.data.preview import cached_preview\n"
        f"table = {{'name': 'k', 'path': {str(root)!r}, 'recipe': 'kermany'}}\n"
        "spec = parse_config({'datasets': [table]}).datasets[0]\n"
        f"print(cached_preview(spec, 16, 1, Path({str(tmp_path / 'pv')!r})).written)\n"
        "print('TF' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'NO_TF')\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["52", "NO_TF"]


def paused_app(datasets: tuple[DatasetSpec, ...], output: Path) -> tuple[MedcamApp, EventLog]:
    config = tiny_queue(datasets, output, {"standard": tiny_preset(image_size=TINY)})
    app = MedcamApp(config=config, start_paused=True)
    log = EventLog(output / "events.jsonl")
    app.runner = Runner(config, [log, app.sink])
    return app, log


async def test_d_opens_the_data_screen_with_the_jobs_contact_sheet(tmp_path: Path) -> None:
    spec = kermany_spec(tmp_path / "data")
    app, log = paused_app((spec,), tmp_path / "out")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, DataScreen) and (screen.image_size, screen.seed) == (TINY, 42)
        sheet = screen.query_one("#data-sheet")
        await wait_for(pilot, lambda: sheet.image is not None)
        assert sheet.image.size == (560, 366)
        assert (tmp_path / "out" / "previews" / "kermany.png").is_file()
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(screen.query_one("#data-counts", Static).content)
        counts = console.export_text()
        assert "PNEUMONIA" in counts and "14 (14 shown)" in counts
        await pilot.press("escape")
        assert not isinstance(app.screen, DataScreen) and app.query_one(QueueTable).row_count == 1
    log.close()


async def test_a_missing_dataset_is_one_line_on_the_data_screen(tmp_path: Path) -> None:
    gone = spec_of(tmp_path / "nowhere", "gone", positive=["x"])
    app, log = paused_app((gone,), tmp_path / "out")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("d")
        status = app.screen.query_one("#data-status")
        await wait_for(pilot, lambda: "no preview" in str(status.render()))
        assert str(status.render()).strip() == f"no preview: dataset folder not found: {tmp_path / 'nowhere'}"
        assert isinstance(app.screen, DataScreen) and app.is_running
    log.close()


def test_write_preview_refuses_a_size_out_of_range(tmp_path: Path) -> None:
    spec = kermany_spec(tmp_path / "data")
    for size in (15, 1025):
        with pytest.raises(ValueError, match="from 16 to 1024 px"):
            write_preview(spec, size, 42, tmp_path / "pv")
    assert not (tmp_path / "pv").exists()
