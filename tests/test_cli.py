"""The CLI answers help and init instantly: no TensorFlow import until a queue runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medcam_core.config import load_config

PROBE = """
import sys
from medcam_tui.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("TF_LOADED" if "tensorflow" in sys.modules or "keras" in sys.modules else "TF_ABSENT")
"""


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["init", "--help"], ["data", "check", "--help"]])
def test_help_does_not_import_tensorflow(argv: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "usage: medcam-tui" in proc.stdout
    assert proc.stdout.strip().endswith("TF_ABSENT")


def test_init_writes_template_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "medcam.toml"
    cmd = [sys.executable, "-m", "medcam_tui.cli", "init", str(target)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and target.is_file()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert second.returncode == 2 and "--force" in second.stderr
    config = load_config(target)
    assert [d.recipe for d in config.datasets] == ["kermany", "nih-cardiomegaly", "osteoporosis", "knee-kl", "mura"]
    assert len(config.jobs()) == 10 and config.datasets[4].body_parts == ("forearm", "humerus")
