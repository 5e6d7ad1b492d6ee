"""What a user installs is what runs: the packages come from the wheel, with every file they read.

CI runs this suite with `pytest` (the console script, which puts no checkout on sys.path) after a
non-editable `pip install '.[test]'`, so a file missing from the wheel fails here, as it would for
a user. Locally an editable install imports the checkout, and only the CI-mode check can tell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
from importlib import resources
from pathlib import Path

import medcam_core
import medcam_tui
from medcam_core.jobqueue.runner import Runner
from medcam_core.jobqueue.state import PROGRESS_FILE
from medcam_core.serialize import write_json_atomic
from medcam_tui.app import MedcamApp
from medcam_tui.screens.help import HelpScreen
from medcam_tui.widgets.queue_table import QueueTable

from conftest import dataset_spec, tiny_preset, tiny_queue
from scripted_queue import write_scripted_queue

CHECKOUT = Path(__file__).resolve().parent.parent
FOLDER = "densenet121_pneumonia_standard_models"
SCRIPT = Path(sysconfig.get_path("scripts")) / "medcam-tui"


def test_both_packages_come_from_one_installation_with_their_stylesheet() -> None:
    core, tui = Path(medcam_core.__file__).resolve().parent, Path(medcam_tui.__file__).resolve().parent
    assert core.parent == tui.parent
    assert resources.files("medcam_tui").joinpath(MedcamApp.CSS_PATH).is_file()
    if os.environ.get("CI"):  # CI tests the wheel: an import from the checkout would hide a missing file
        assert not core.is_relative_to(CHECKOUT), f"medcam_core imported from the checkout {core}"
        assert not tui.is_relative_to(CHECKOUT), f"medcam_tui imported from the checkout {tui}"


async def test_installed_app_paints_the_queue_opens_help_and_quits(synthetic_root: Path, tmp_path: Path) -> None:
    config = tiny_queue((dataset_spec(synthetic_root, "pneumonia"),), tmp_path / "out", {"standard": tiny_preset()})
    app = MedcamApp(config=config, start_paused=True)
    app.runner = Runner(config, [app.sink])
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert [key.value for key in app.query_one(QueueTable).rows] == ["pneumonia_standard"]
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "q")
    assert app.return_code == 0


def _script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_installed_console_script_runs_help_init_data_check_and_report(synthetic_root: Path, tmp_path: Path) -> None:
    assert SCRIPT.is_file(), f"no console script at {SCRIPT}: is the package installed?"
    helped = _script("--help", cwd=tmp_path)
    assert helped.returncode == 0 and "usage: medcam-tui" in helped.stdout

    initialised = _script("init", cwd=tmp_path)
    assert initialised.returncode == 0 and (tmp_path / "medcam.toml").is_file()

    checked = _script(
        "data", "check", str(synthetic_root / "pneumonia"), "--positive", "pneumonia", "--json", cwd=tmp_path
    )
    assert checked.returncode in (0, 1), checked.stderr
    (dataset,) = json.loads(checked.stdout)["datasets"]
    assert dataset["splits"]["train"]["positive"] > 0 and dataset["splits"]["train"]["negative"] > 0

    write_scripted_queue(tmp_path / "queue")
    job = {"id": "pneumonia_standard", "dataset": "pneumonia", "preset": "standard", "status": "done"}
    write_json_atomic(tmp_path / "queue" / PROGRESS_FILE, {"jobs": [{**job, "folder": FOLDER}]})
    reported = _script("report", "--output", str(tmp_path / "queue"), cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr
    assert "pneumonia" in (tmp_path / "queue" / "STATUS_REPORT.md").read_text(encoding="utf-8")
