"""SVG snapshots of the add-job, report and Grad-CAM screens (fixed size, fixed data, no clock).

The Grad-CAM screen runs a real (hand-weighted, so deterministic) Keras model saved in a job folder:
test_gradcam's bright-blob model.
Regenerate after an intended change with: pytest -n 0 tests/test_screen_snapshots.py --snapshot-update
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from textual.app import App

from medcam_core.outputs import report
from medcam_core.outputs.job_folder import JobFolder, write_predictions
from medcam_core.serialize import write_json_atomic
from medcam_tui.app import MedcamApp
from medcam_tui.screens.gradcam import GradCAMScreen
from medcam_tui.screens.modals import AddJob
from medcam_tui.screens.report import ReportScreen

from test_gradcam import bright_blob_model
from test_report import T, job, layout

SIZE = (120, 36)


class Host(App[None]):
    """An app with medcam's stylesheet that opens one screen: the screen is what the snapshot is about."""

    CSS_PATH = str(Path(inspect.getfile(MedcamApp)).parent / MedcamApp.CSS_PATH)  # relative to the app's module

    def __init__(self, screen: object) -> None:
        super().__init__()
        self.opened = screen

    def on_mount(self) -> None:
        self.push_screen(self.opened)  # type: ignore[arg-type]


def test_add_job_dialog(snap_compare) -> None:
    assert snap_compare(Host(AddJob(["pneumonia", "cardiomegaly"], ["standard", "intensive"])), terminal_size=SIZE)


def test_report_screen(snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report.time, "time", lambda: T + 3600)  # the report's "Generated" line, in UTC
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.chdir(tmp_path)  # the screen names its folder as given: "new", not a temporary path
    (tmp_path / "new").mkdir()
    layout(tmp_path / "new", [job("pneumonia_standard", "done"), job("cardiomegaly_standard", "failed")], {
        "pneumonia_standard": 0.93,
    })  # fmt: skip
    assert snap_compare(Host(ReportScreen(Path("new"))), terminal_size=SIZE)


def test_gradcam_screen(snap_compare, tmp_path: Path) -> None:
    folder = JobFolder(tmp_path / "densenet121_squares_standard_models")
    folder.make_dirs()
    bright_blob_model().save(folder.model_file)
    write_json_atomic(folder.config_file, {"preset": {"image_size": 32}})
    write_json_atomic(folder.metrics_file, {"threshold": {"value": 0.5}})
    rows = []
    for i, (row, col) in enumerate(((4, 4), (18, 20))):
        pixels = np.full((64, 64), 20, np.uint8)
        pixels[2 * row : 2 * row + 12, 2 * col : 2 * col + 12] = 250
        Image.fromarray(pixels).save(tmp_path / f"square{i}.png")
        rows.append({"split": "test", "path": str(tmp_path / f"square{i}.png"), "patient": str(i), "label": 1,
                     "probability": 0.6})  # fmt: skip
    write_predictions(folder.predictions_file, rows)
    screen = GradCAMScreen(folder.root)

    async def computed(pilot) -> None:
        while screen.current is None:
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(Host(screen), terminal_size=SIZE, run_before=computed)
