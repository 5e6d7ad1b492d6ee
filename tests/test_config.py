"""Queue config: the template is valid, every kind of mistake names file, key and expectation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medcam_core.config import load_config, parse_config
from medcam_core.config_template import TEMPLATE
from medcam_core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "medcam.toml"
    path.write_text(text)
    return path


def test_template_is_the_plans_five_by_two_queue(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, TEMPLATE))
    jobs = config.jobs()
    assert len(jobs) == 10
    assert [j.id for j in jobs[:3]] == ["pneumonia_standard", "pneumonia_intensive", "cardiomegaly_standard"]
    assert config.presets["standard"].epochs == 10 and config.presets["intensive"].epochs == 15
    assert config.presets["standard"].image_size == 224
    assert all(d.max_per_class == 500 for d in config.datasets)
    assert jobs[0].folder_name == "densenet121_pneumonia_standard_models"
    assert config.output == (tmp_path / "new").resolve()


MINIMAL = '[[datasets]]\nname = "a"\npath = "data"\npositive = ["yes"]\n'


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (MINIMAL + "colour = 1\n", "datasets[0].colour", "unknown key"),
        (MINIMAL.replace('path = "data"\n', ""), "datasets[0].path", "missing"),
        (MINIMAL + '[presets.standard]\nepochs = "ten"\n', "presets.standard.epochs", "an integer"),
        (
            MINIMAL + "[presets.standard]\nlearning_rate = 5\n",
            "presets.standard.learning_rate",
            "between 0 and 1",
        ),
        (MINIMAL + '[queue]\npresets = ["fast"]\n', "queue.presets[0]", "defined preset"),
        (MINIMAL + '[presets.standard]\nstrategy = "multi"\n', "presets.standard.strategy", '"mirrored"'),
        (MINIMAL.replace('"a"', '"a b"'), "datasets[0].name", "letters, digits"),
        (MINIMAL + "max_per_class = 1\n", "datasets[0].max_per_class", "≥ 2"),
        (MINIMAL + "split = [0.5, 0.5, 0.5]\n", "datasets[0].split", "add up to 1"),
        (MINIMAL + 'patient_id = "(a)(b)"\n', "datasets[0].patient_id", "one group"),
        (MINIMAL + 'negative = ["yes"]\n', "datasets[0].negative", "no class in both"),
        (MINIMAL + 'external = ["b"]\n', "datasets[0].external[0]", "another dataset's name (none)"),
        (MINIMAL + 'external = ["a"]\n', "datasets[0].external[0]", "another dataset's name"),
        (MINIMAL + "external = []\n", "datasets[0].external", "a list of other datasets' names"),
        (MINIMAL + "train = false\n", "datasets", "at least one dataset to train on"),
        (MINIMAL + 'train = "no"\n', "datasets[0].train", "true or false"),
        ("datasets = 3\n", "datasets", "at least one"),
        ("[[datasets]\n", "(syntax)", "valid TOML"),
    ],
)
def test_bad_config_names_file_key_and_expectation(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key
    assert expected in info.value.expected
    assert str(path) in str(info.value)


def test_a_validation_only_dataset_is_never_trained_but_others_are_validated_on_it(tmp_path: Path) -> None:
    text = MINIMAL.replace("[[datasets]]", '[[datasets]]\nexternal = ["b"]') + MINIMAL.replace('"a"', '"b"')
    config = load_config(write(tmp_path, text + "train = false\n"))
    assert [j.id for j in config.jobs()] == ["a_standard", "a_intensive"]
    assert [j.id for j in config.all_jobs()] == ["a_standard", "a_intensive"]
    assert config.datasets[0].external == ("b",) and not config.datasets[1].train


def test_presets_override_and_inherit(tmp_path: Path) -> None:
    text = MINIMAL + '[presets.quick]\nepochs = 2\n[queue]\npresets = ["quick"]\n'
    config = load_config(write(tmp_path, text))
    quick = config.presets["quick"]
    assert quick.epochs == 2 and quick.image_size == 224 and quick.trainable_layers == 20
    assert [j.id for j in config.jobs()] == ["a_quick"]


def test_parse_is_pure_data() -> None:
    with pytest.raises(ConfigError):
        parse_config({"datasets": [{"name": "x", "path": "p", "positive": "yes"}]})


def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[presets.standard]\nbatch_size = 0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "medcam_tui.cli", "run", "--headless", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "presets.standard.batch_size" in proc.stderr and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_thread_settings_apply_in_a_fresh_process_and_say_so_when_too_late() -> None:
    import subprocess
    import sys

    code = """
from medcam_core.config import parse_config
from medcam_core.train.threads import apply_thread_settings
import tensorflow as tf
config = parse_config({"queue": {"intra_op_threads": 1, "inter_op_threads": 2}, "datasets": [
    {"name": "d", "path": "data", "positive": ["x"]}]})
assert apply_thread_settings(config.intra_op_threads, config.inter_op_threads) is None
assert tf.config.threading.get_intra_op_parallelism_threads() == 1
assert tf.config.threading.get_inter_op_parallelism_threads() == 2
tf.constant(1.0) + 1.0
print(apply_thread_settings(3, 0))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "not applied: TensorFlow was already running" in proc.stdout
