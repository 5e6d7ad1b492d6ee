"""Input a careless user writes: each gets one line naming what is wrong and exit status 2, before
anything trains; a bug gets one line and exit 3, with its traceback in the log."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest
from rich.console import Console

from medcam_core.config import load_config
from medcam_core.errors import ConfigError, ModelFileError
from medcam_core.events import JobFailed
from medcam_core.serialize import write_json_atomic
from medcam_core.train.model import load_saved_model
from medcam_tui import cli, commands
from medcam_tui.console import ConsoleSink
from medcam_tui.exit_codes import EXIT_CONFIG, EXIT_INTERNAL
from medcam_tui.messages import EngineEvent

ESC = "\x1b"
DATASET = '[[datasets]]\nname = "{name}"\npath = "{path}"\npositive = ["yes"]\n'


def medcam(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in this process (no interpreter start per call): for input refused before any work."""
    out, err, previous = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(args))
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def medcam_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process: for commands that take over file descriptor 2 for their log."""
    return subprocess.run(
        [sys.executable, "-m", "medcam_tui.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def assert_one_line(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == EXIT_CONFIG, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("medcam-tui: error: ")
    for word in words:
        assert word in line, line


def queue_file(tmp_path: Path, body: str) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    path = tmp_path / "medcam.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_two_jobs_with_one_id_are_refused_naming_both(tmp_path: Path) -> None:
    """`a_b` × `c` and `a` × `b_c` once shared folder a_b_c and retrained each other forever."""
    body = (
        DATASET.format(name="a_b", path="data")
        + DATASET.format(name="a", path="data")
        + '[presets.c]\nepochs = 1\n[presets.b_c]\nepochs = 1\n[queue]\npresets = ["c", "b_c"]\n'
    )
    toml = queue_file(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_config(toml)
    assert "'a_b' × preset 'c'" in str(info.value) and "'a' × preset 'b_c'" in str(info.value)
    for command in (["run", "--headless"], ["data", "check"]):
        assert_one_line(medcam(*command, "--config", str(toml), cwd=tmp_path), "a_b_c", "datasets[1].name")


def test_an_output_root_inside_a_dataset_is_refused(tmp_path: Path) -> None:
    toml = queue_file(tmp_path, DATASET.format(name="a", path="data") + '[queue]\noutput = "data/results"\n')
    assert_one_line(medcam("run", "--headless", "--config", str(toml), cwd=tmp_path), "queue.output", "inside")
    fine = queue_file(tmp_path, DATASET.format(name="a", path="data"))
    override = medcam("run", "--headless", "--config", str(fine), "--output", str(tmp_path / "data"), cwd=tmp_path)
    assert_one_line(override, "queue.output", "inside datasets[0]")
    assert not (tmp_path / "data" / "events.jsonl").exists()


def test_a_negative_seed_is_a_config_error_not_a_crash_later(tmp_path: Path) -> None:
    toml = queue_file(tmp_path, DATASET.format(name="a", path="data") + "[presets.standard]\nseed = -1\n")
    for command in (["run", "--headless"], ["data", "check"]):
        assert_one_line(medcam(*command, "--config", str(toml), cwd=tmp_path), "presets.standard.seed", "0 to")


def test_weights_must_name_an_hdf5_file(tmp_path: Path) -> None:
    import h5py

    passwd = queue_file(
        tmp_path, DATASET.format(name="a", path="data") + '[presets.standard]\nweights = "/etc/passwd"\n'
    )
    assert_one_line(medcam("run", "--headless", "--config", str(passwd), cwd=tmp_path), "weights", "not an HDF5")
    missing = queue_file(tmp_path, DATASET.format(name="a", path="data") + '[presets.standard]\nweights = "w.h5"\n')
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(missing)
    with h5py.File(tmp_path / "w.h5", "w") as fh:  # relative to the config file, as dataset paths are
        fh.attrs["layer_names"] = []
    assert load_config(missing).presets["standard"].weights == str(tmp_path / "w.h5")


@pytest.fixture(scope="module")
def lambda_job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A job folder whose model holds a Lambda layer: Python code that must never run."""
    folder = tmp_path_factory.mktemp("out") / "densenet121_a_standard_models"
    (folder / "models").mkdir(parents=True)
    inputs = keras.Input((32, 32, 3))
    features = keras.layers.Conv2D(2, 3)(inputs)
    doubled = keras.layers.Lambda(lambda x: x * 2)(features)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(doubled))
    keras.Model(inputs, outputs).save(folder / "models" / "model.keras")
    write_json_atomic(folder / "configs" / "job_config.json", {"preset": {"image_size": 32}})
    write_json_atomic(folder / "results" / "metrics.json", {"threshold": {"value": 0.5}})
    (folder / "results" / "predictions.csv").write_text("split,path,patient,label,probability\n", encoding="utf-8")
    return folder


def test_a_model_with_a_lambda_layer_is_refused_in_one_line(lambda_job: Path) -> None:
    with pytest.raises(ModelFileError, match="Lambda"):
        load_saved_model(lambda_job / "models" / "model.keras")
    proc = medcam_process("gradcam", str(lambda_job), cwd=lambda_job.parent)
    assert_one_line(proc, "model.keras", "cannot be loaded safely", "Lambda")


def test_a_damaged_job_folder_is_named_not_a_traceback(lambda_job: Path, tmp_path: Path) -> None:
    broken = tmp_path / "densenet121_b_standard_models"
    (broken / "models").mkdir(parents=True)
    (broken / "models" / "model.keras").write_bytes(b"not a zip")
    (broken / "configs").mkdir()
    (broken / "configs" / "job_config.json").write_text("{truncated", encoding="utf-8")
    assert_one_line(medcam_process("gradcam", str(broken), cwd=tmp_path), "job_config.json", "damaged")


def test_a_bug_is_one_line_exit_3_and_a_traceback_in_the_log(tmp_path: Path, monkeypatch, capsys) -> None:
    def broken(path: Path, force: bool) -> int:
        raise RuntimeError("injected bug")

    monkeypatch.setattr(commands, "init_command", broken)
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a fresh process: no log file set up yet
    try:
        assert cli.main(["init", str(tmp_path / "x.toml")]) == EXIT_INTERNAL
    finally:
        for handler in root.handlers:
            handler.close()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "injected bug" in err and str(tmp_path / commands.LOG_FILE) in err
    logged = (tmp_path / commands.LOG_FILE).read_text(encoding="utf-8")
    assert "Traceback" in logged and "RuntimeError: injected bug" in logged


HOSTILE = f"img{ESC}[2J{ESC}]0;owned\x07.png"


def test_names_with_escape_sequences_reach_no_screen_raw(tmp_path: Path) -> None:
    failed = JobFailed("a_standard", "load", f"cannot decode {HOSTILE} [/]", "hint", f"Traceback\n  {HOSTILE}\n", 1.0)
    shown = EngineEvent(failed).event
    assert ESC not in shown.error + shown.traceback and "\\x1b[2J" in shown.error
    assert shown.traceback.count("\n") == 2  # multi-line text keeps its lines

    out = io.StringIO()
    sink = ConsoleSink(Console(file=out, force_terminal=False, width=200))
    sink(failed)
    assert ESC not in out.getvalue() and "\\x1b[2J" in out.getvalue()

    log_file = tmp_path / "medcam.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(commands.PrintableFormatter("%(message)s"))
    logger = logging.getLogger("medcam.test-hostile")
    logger.addHandler(handler)
    try:
        logger.warning("skipped %s", HOSTILE)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert ESC not in log_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("output", ["afile", "afile/below"])
def test_an_output_root_that_is_a_file_is_one_line(tmp_path: Path, output: str) -> None:
    (tmp_path / "afile").write_text("not a folder", encoding="utf-8")
    for command in (["run", "--headless"], ["run"]):
        assert_one_line(medcam(*command, "--output", output, cwd=tmp_path), "afile is a file, not a folder")
    toml = queue_file(tmp_path, DATASET.format(name="a", path="data") + f'[queue]\noutput = "{output}"\n')
    assert_one_line(medcam("data", "check", "--config", str(toml), cwd=tmp_path), "is a file, not a folder")
