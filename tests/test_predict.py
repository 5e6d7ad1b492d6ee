"""`medcam-tui predict`: one CSV row per readable image, every unreadable file listed with its reason,
decisions at the job's validation threshold (or 0.5, said so), batches streamed."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from medcam_core.inference import predict
from medcam_core.inference.classifier import Classifier
from medcam_core.inference.predict import Scored, Skipped, Source, expand, score
from medcam_tui import cli, predict_command
from medcam_tui.exit_codes import EXIT_CONFIG, EXIT_OK

SIZE = 32
IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CNN on 3-channel input with a sigmoid head, saved as .keras."""
    keras.utils.set_random_seed(11)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    path = tmp_path_factory.mktemp("model") / "cnn.keras"
    model.save(path)
    return path


def by_hand(model_file: Path, paths: list[Path]) -> np.ndarray:
    """P(positive) computed without medcam: Pillow gray, bilinear resize, ImageNet mean/std, the model."""
    model = keras.saving.load_model(model_file)
    gray = [np.asarray(Image.open(p).convert("L").resize((SIZE, SIZE), Image.BILINEAR), np.float64) for p in paths]
    x = (np.repeat(np.stack(gray)[..., None], 3, axis=-1) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return model.predict_on_batch(x.astype(np.float32))[:, 0]


def picture(path: Path, seed: int, side: int = 40) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8)).save(path)
    return path


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_folder_with_a_corrupt_file_and_a_non_image(model_file: Path, tmp_path: Path) -> None:
    """Every good image gets its row and its panel; the two bad files are listed with their reasons."""
    folder = tmp_path / "xrays"
    good = [picture(folder / "a.png", 1), picture(folder / "sub" / "a.png", 2), picture(folder / "b.jpg", 3, 50)]
    (folder / "broken.png").write_bytes((folder / "a.png").read_bytes()[:60])
    (folder / "notes.txt").write_text("not an image", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "medcam_tui.cli", "predict", str(model_file), str(folder), "--csv", "out.csv",
         "--skipped", "skipped.csv", "--gradcam", "cams"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == EXIT_OK, proc.stderr
    assert proc.stdout == ""  # the rows went to --csv
    found = rows((tmp_path / "out.csv").read_text(encoding="utf-8"))
    assert [Path(r["path"]) for r in found] == [good[0], good[2], good[1]]  # folder order: a.png, b.jpg, sub/
    expected = by_hand(model_file, [good[0], good[2], good[1]])
    np.testing.assert_allclose([float(r["probability"]) for r in found], expected, atol=2e-3)  # JPEG: draft decode
    assert [r["predicted"] for r in found] == [str(int(p >= 0.5)) for p in expected]
    assert {r["threshold"] for r in found} == {"0.5"}
    lines = proc.stderr.strip().splitlines()
    assert "no threshold in a bare model file: 0.5; pass --threshold" in lines[0]
    assert f"skipped {folder / 'notes.txt'}: not an image file extension (.txt)" in lines
    assert any(line.startswith(f"skipped {folder / 'broken.png'}: ") for line in lines)
    assert "3 image(s) scored, 2 file(s) could not be read (listed in skipped.csv)" in lines
    assert "Traceback" not in proc.stderr and "oneDNN" not in proc.stderr  # TensorFlow's chatter is in the log
    listed = rows((tmp_path / "skipped.csv").read_text(encoding="utf-8"))
    assert sorted(Path(r["path"]).name for r in listed) == ["broken.png", "notes.txt"]
    for panel in ("a_panel.png", "b_panel.png", "sub/a_panel.png", "a_cam.npy"):
        assert (tmp_path / "cams" / panel).is_file(), panel


def run_cli(monkeypatch, *args: str) -> tuple[int, str, str]:
    """The CLI in this process; the log routing (fd 2, process-wide) is left out."""
    monkeypatch.setattr(predict_command, "setup_logging", lambda *a, **k: None)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_nothing_scored_is_exit_status_2_with_every_reason(model_file: Path, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "garbage.jpg").write_bytes(b"\xff\xd8 not really")
    code, out, err = run_cli(monkeypatch, "predict", str(model_file), str(tmp_path / "empty.png"), str(tmp_path))
    assert code == EXIT_CONFIG
    assert rows(out) == []  # the header only
    assert f"skipped {tmp_path / 'empty.png'}: empty file (0 bytes)" in err
    assert f"skipped {tmp_path / 'garbage.jpg'}: " in err
    assert err.strip().splitlines()[-1] == "medcam-tui: error: nothing could be scored: every input was unreadable"
    code, _, err = run_cli(monkeypatch, "predict", str(model_file), str(tmp_path / "absent.png"))
    assert code == EXIT_CONFIG and f"skipped {tmp_path / 'absent.png'}: not found" in err


def job_folder(root: Path, model_file: Path, threshold: float) -> Path:
    job = root / "densenet121_demo_standard_models"
    for sub in ("models", "configs", "results"):
        (job / sub).mkdir(parents=True)
    (job / "models" / "model.keras").write_bytes(model_file.read_bytes())
    (job / "configs" / "job_config.json").write_text(json.dumps({"preset": {"image_size": SIZE}}), encoding="utf-8")
    (job / "results" / "metrics.json").write_text(json.dumps({"threshold": {"value": threshold}}), encoding="utf-8")
    return job


def test_a_job_folder_decides_at_its_validation_threshold(model_file: Path, tmp_path: Path, monkeypatch) -> None:
    images = [picture(tmp_path / "in" / f"{i}.png", 20 + i) for i in range(6)]
    probabilities = by_hand(model_file, images)
    threshold = float(np.median(probabilities))
    job = job_folder(tmp_path, model_file, threshold)
    code, out, err = run_cli(monkeypatch, "predict", str(job), str(tmp_path / "in"))
    assert code == EXIT_OK, err
    assert f"job validation threshold {threshold:.3g}" in err and "a job of this tool" in err
    found = rows(out)
    assert [r["predicted"] for r in found] == [str(int(p >= threshold)) for p in probabilities]
    assert {r["predicted"] for r in found} == {"0", "1"}
    code, out, err = run_cli(monkeypatch, "predict", str(job), str(tmp_path / "in"), "--threshold", "0")
    assert code == EXIT_OK and "threshold 0 from --threshold" in err
    assert {r["predicted"] for r in rows(out)} == {"1"} and {r["threshold"] for r in rows(out)} == {"0"}


def test_a_file_named_directly_is_tried_whatever_its_suffix(model_file: Path, tmp_path: Path) -> None:
    scan = tmp_path / "scan.dat"
    scan.write_bytes(picture(tmp_path / "tmp.png", 5).read_bytes())
    (tmp_path / "tmp.png").unlink()
    sources, skipped = expand([scan, tmp_path])
    assert sources == [Source(scan)]  # named: tried; found in a folder: not an image name
    assert skipped == [Skipped(str(scan), "not an image file extension (.dat)")]
    (outcome,) = score(Classifier.open(model_file), sources)
    assert isinstance(outcome, Scored)
    assert outcome.probability == pytest.approx(float(by_hand(model_file, [scan])[0]), abs=1e-5)


def test_scoring_streams_a_batch_at_a_time(model_file: Path, tmp_path: Path, monkeypatch) -> None:
    """Memory stays flat: nothing past the current batch is decoded before its outcomes are consumed."""
    sources = [Source(picture(tmp_path / f"{i}.png", 30 + i)) for i in range(7)]
    decoded: list[Path] = []
    real = predict.decode

    def counting(path: Path, size: int) -> np.ndarray:
        decoded.append(path)
        return real(path, size)

    monkeypatch.setattr(predict, "decode", counting)
    outcomes = score(Classifier.open(model_file), sources, batch_size=3)
    first = next(outcomes)
    assert len(decoded) == 3 and isinstance(first, Scored)
    rest = list(outcomes)
    assert len(decoded) == 7 and [o.source for o in [first, *rest]] == sources
    expected = by_hand(model_file, [s.path for s in sources])
    np.testing.assert_allclose([o.probability for o in [first, *rest]], expected, atol=1e-5)
