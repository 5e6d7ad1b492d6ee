"""Models side by side: marking and pinning in the browser, the compare screen's paired tests (checked
against statistics recomputed here from the predictions on disk), the config diff, the `/` filter and
sortable columns of the queue table and the browser, and an SVG snapshot of the compare screen.

Regenerate the snapshot after an intended change with:
python -m pytest tests/test_compare_screen.py --snapshot-update
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest, norm
from sklearn.metrics import roc_auc_score
from textual.app import App
from textual.widgets import DataTable

from medcam_core.evaluate.compare import paired_delong
from medcam_core.jobqueue.event_log import EventLog
from medcam_core.jobqueue.runner import Runner
from medcam_core.outputs.comparisons import p_text
from medcam_core.outputs.job_folder import JobFolder
from medcam_core.outputs.model_comparison import compare_models, config_differences
from medcam_core.serialize import write_json_atomic
from medcam_tui.app import MedcamApp
from medcam_tui.screens.browser import ModelBrowser
from medcam_tui.screens.compare import CompareScreen
from medcam_tui.widgets.queue_table import QueueTable
from medcam_tui.widgets.table_tools import FilterPrompt

from conftest import dataset_spec, tiny_preset, tiny_queue
from test_report import prediction_rows, scored_job, two_models
from test_tui import SIZE, make_app, wait_for

pytestmark = pytest.mark.cost(33)

HISTORY = {
    "loss": [0.69, 0.52, 0.41, 0.37],
    "val_loss": [0.66, 0.55, 0.47, 0.49],
    "accuracy": [0.55, 0.71, 0.80, 0.83],
    "val_accuracy": [0.58, 0.69, 0.76, 0.74],
}


def read_test_split(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Labels, probabilities, paths and patients of a job's test split, read with the csv module."""
    with open(JobFolder(folder).predictions_file, newline="", encoding="utf-8") as fh:
        rows = sorted((r for r in csv.DictReader(fh) if r["split"] == "test"), key=lambda r: r["path"])
    y = np.array([int(r["label"]) for r in rows])
    p = np.array([float(r["probability"]) for r in rows])
    return y, p, [r["path"] for r in rows], [r["patient"] for r in rows]


def delong_by_hand(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong et al. (1988) with the structural components written out: (AUROC a − AUROC b, two-sided p)."""
    pos, neg = y == 1, y == 0

    def components(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        return psi.mean(axis=1), psi.mean(axis=0), float(psi.mean())

    v10a, v01a, auc_a = components(a)
    v10b, v01b, auc_b = components(b)
    s = np.cov(np.vstack([v10a, v10b])) / pos.sum() + np.cov(np.vstack([v01a, v01b])) / neg.sum()
    se = math.sqrt(s[0, 0] + s[1, 1] - 2 * s[0, 1])
    return auc_a - auc_b, float(2 * norm.sf(abs(auc_a - auc_b) / se))


def mcnemar_by_hand(hits_a: np.ndarray, hits_b: np.ndarray) -> float:
    only_a, only_b = int((hits_a & ~hits_b).sum()), int((~hits_a & hits_b).sum())
    return 1.0 if only_a + only_b == 0 else binomtest(only_a, only_a + only_b, 0.5).pvalue


def hand_written(root: Path) -> list[tuple[str, Path]]:
    """Two presets of one dataset on the same 60 test images (unclustered), a third on other images."""
    y, p_a, p_b = two_models(7, 0.3)
    p_c = two_models(8, 0.5)[2]
    entries = [
        scored_job(root, "pneumonia", "standard", prediction_rows(y, p_a), threshold=0.45, unit="image"),
        scored_job(root, "pneumonia", "intensive", prediction_rows(y, p_b), threshold=0.55, unit="image"),
        scored_job(root, "limb", "standard", prediction_rows(y, p_c, [f"x{i}.png" for i in range(len(y))])),
    ]
    for i, (entry, lr, scores) in enumerate(zip(entries, (1e-3, 1e-4, 1e-3), (p_a, p_b, p_c), strict=True)):
        folder = JobFolder(root / entry["folder"])
        metrics = json.loads(folder.metrics_file.read_text())
        auroc = roc_auc_score(y, scores)
        metrics["test"].update(
            auroc=auroc,
            n={"positive": 29, "negative": 31},
            ci={**metrics["test"]["ci"], "auroc": [auroc - 0.08, min(1.0, auroc + 0.05)]},
        )
        write_json_atomic(folder.metrics_file, metrics)
        write_json_atomic(folder.history_file, {k: [v * (1 + i / 20) for v in vs] for k, vs in HISTORY.items()})
        config = {
            "dataset": {"name": entry["dataset"], "path": "/data/x"},
            "preset": {"name": entry["preset"], "epochs": 4, "learning_rate": lr},
        }
        write_json_atomic(folder.config_file, config)
    return [(e["id"], root / e["folder"]) for e in entries]


def test_the_paired_figures_are_delong_and_exact_mcnemar_on_the_shared_images(tmp_path: Path) -> None:
    folders = hand_written(tmp_path)
    comparison = compare_models(folders, baseline="pneumonia_intensive")
    assert comparison.baseline == "pneumonia_intensive"
    versus = comparison.versus["pneumonia_standard"]
    y, p_a, _, _ = read_test_split(folders[0][1])
    y_b, p_b, _, _ = read_test_split(folders[1][1])
    assert (y == y_b).all()
    delta, p = delong_by_hand(y, p_a, p_b)  # the model minus the baseline
    assert versus.delta("auroc") == pytest.approx((delta, p), rel=1e-9)
    assert delta == pytest.approx(roc_auc_score(y, p_a) - roc_auc_score(y, p_b))
    hits_a, hits_b = (p_a >= 0.45) == (y == 1), (p_b >= 0.55) == (y == 1)
    for metric, chosen in (("sensitivity", y == 1), ("specificity", y == 0), ("accuracy", y >= 0)):
        difference, p_mcnemar = versus.delta(metric)
        assert difference == pytest.approx(hits_a[chosen].mean() - hits_b[chosen].mean())
        assert p_mcnemar == pytest.approx(mcnemar_by_hand(hits_a[chosen], hits_b[chosen]))
    assert versus.cell("auroc") == f"{delta:+.3f} · {p_text(p)}".replace("-", "−")
    other = comparison.versus["limb_standard"]  # scored on other images: a reason, never a p-value
    assert other.tests is None and other.skipped.startswith("not scored on the same test images (60 only in")
    assert other.cell("auroc") == "different test images" and "p =" not in other.cell("sensitivity")
    assert any("limb_standard vs pneumonia_intensive: no paired test" in n for n in comparison.notes())
    assert comparison.curve_metrics() == ["loss", "accuracy"]
    keys = {d.key: d.values for d in comparison.config_diff}
    assert keys == {
        "dataset.name": ("pneumonia", "pneumonia", "limb"),
        "preset.name": ("standard", "intensive", "standard"),
        "preset.learning_rate": ("0.001", "0.0001", "0.001"),
    }


def test_the_config_diff_lists_only_keys_that_differ_absent_ones_included() -> None:
    same = {"epochs": 10, "augment": {"flip": True}}
    diff = config_differences([{**same, "lr": 0.1, "layers": [1, 2]}, {**same, "layers": [1, 3], "new": "x"}])
    assert [(d.key, d.values) for d in diff] == [
        ("lr", ("0.1", "–")),
        ("layers", ("[1, 2]", "[1, 3]")),
        ("new", ("–", "x")),
    ]
    assert config_differences([same, json.loads(json.dumps(same))]) == []


class Host(App[None]):
    def __init__(self, screen: object) -> None:
        super().__init__()
        self.first = screen

    def on_mount(self) -> None:
        self.push_screen(self.first)


def test_the_compare_screen_snapshot(snap_compare, tmp_path: Path) -> None:
    folders = hand_written(tmp_path)

    async def loaded(pilot) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen) and pilot.app.screen.comparison)
        await pilot.pause()

    assert snap_compare(Host(CompareScreen(folders, "pneumonia_intensive")), terminal_size=SIZE, run_before=loaded)


@pytest.fixture(scope="module")
def trained(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real presets of one dataset on the same split, trained once (eagerly: cheaper at this size);
    models scored on other images are the hand-written folders' case."""
    out = tmp_path_factory.mktemp("compare")
    presets = {
        "standard": tiny_preset(run_eagerly=True),
        "intensive": tiny_preset("intensive", epochs=3, learning_rate=1e-2, run_eagerly=True),
    }
    config = tiny_queue((dataset_spec(synthetic_root, "pneumonia"),), out, presets)
    log = EventLog(out / "events.jsonl")
    counts = Runner(config, [log]).run()
    log.close()
    assert counts["done"] == 2, counts
    return out


async def test_mark_two_real_models_and_compare_them_with_a_paired_p_value(trained: Path) -> None:
    app = MedcamApp(attach=trained)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.view.finished)
        await pilot.press("b")
        browser = app.screen
        assert isinstance(browser, ModelBrowser)
        await wait_for(pilot, lambda: browser.loaded)
        await pilot.press("space", "C")  # one marked model is not a comparison
        assert app.screen is browser
        await pilot.press("down", "p")  # the second model: marked and pinned as the baseline
        models = browser.query_one("#models", DataTable)
        assert [str(c) for c in models.get_column("mark")] == ["●", "◆ base"]
        await pilot.press("C")
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.baseline == "pneumonia_intensive"
        await wait_for(pilot, lambda: screen.comparison is not None)
        table = screen.query_one("#compare-metrics", DataTable)
        auroc = [str(c) for c in table.get_row("AUROC")]
        assert auroc[1].startswith("0.") or auroc[1].startswith("1.")
        y, p_a, paths_a, patients = read_test_split(trained / "densenet121_pneumonia_standard_models")
        _, p_b, paths_b, _ = read_test_split(trained / "densenet121_pneumonia_intensive_models")
        assert paths_a == paths_b
        unit = json.loads((trained / "densenet121_pneumonia_standard_models/results/metrics.json").read_text())
        groups = patients if unit["bootstrap"]["unit"] == "patient" else None
        expected = paired_delong(y, p_a, p_b, 0.95, groups)
        assert expected.delta == pytest.approx(roc_auc_score(y, p_a) - roc_auc_score(y, p_b))
        assert auroc[2] == f"{expected.delta:+.3f} · {p_text(expected.p_value)}".replace("-", "−")
        assert len(screen.comparison.curve_metrics()) >= 2
        await pilot.press("m")
        assert screen.metric == screen.comparison.curve_metrics()[1]
        await pilot.press("escape")
        assert app.screen is browser


async def test_slash_filters_and_headers_sort_the_queue_table(tmp_path: Path) -> None:
    presets = {"standard": tiny_preset(), "intensive": tiny_preset("intensive")}
    datasets = (dataset_spec(tmp_path, "pneumonia"), dataset_spec(tmp_path, "cardiomegaly"))
    app, log = make_app(tiny_queue(datasets, tmp_path / "out", presets), paused=True)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(QueueTable)
        everything = [k.value for k in table.rows]
        await pilot.press("down")
        await pilot.press("slash")
        assert isinstance(app.screen, FilterPrompt)
        await pilot.press(*"PNEU")
        assert [r.key.value for r in table.ordered_rows] == ["pneumonia_standard", "pneumonia_intensive"]
        await pilot.press("enter")
        assert table.pattern == "PNEU" and table.row_count == 2
        await pilot.press("o", "o")  # sorted by the columns after '#': dataset, then preset
        assert [r.key.value for r in table.ordered_rows] == ["pneumonia_intensive", "pneumonia_standard"]
        assert str(table.columns[next(k for k in table.columns if k.value == "preset")].label) == "preset ▲"
        await pilot.press("slash", "escape")
        assert table.pattern == "" and table.row_count == len(everything) == 4
        presets = [str(table.get_cell(r.key, "preset")) for r in table.ordered_rows]
        assert presets == ["intensive", "intensive", "standard", "standard"]
        chosen = table.selected_job
        x = sum(c.get_render_width(table) for c in list(table.columns.values())[:2]) + 1  # on the preset header
        await pilot.click(QueueTable, offset=(x, 0))  # the same header again: reversed
        presets = [str(table.get_cell(r.key, "preset")) for r in table.ordered_rows]
        assert presets == ["standard", "standard", "intensive", "intensive"]
        assert table.selected_job == chosen  # the cursor moved with its job
    log.close()


async def test_slash_filters_and_headers_sort_the_browser(tmp_path: Path) -> None:
    folders = hand_written(tmp_path)
    app = Host(ModelBrowser(folders))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", False))
        browser = app.screen
        models = browser.query_one("#models", DataTable)
        await pilot.press("slash", *"LiMb", "enter")
        assert [r.key.value for r in models.ordered_rows] == ["limb_standard"]
        await pilot.press("slash", "escape")
        assert models.row_count == 3
        aurocs = {job: roc_auc_score(*read_test_split(folder)[:2]) for job, folder in folders}
        await pilot.press("o", "o", "o")  # mark, model, AUROC
        assert [r.key.value for r in models.ordered_rows] == sorted(aurocs, key=aurocs.get)
        await pilot.press("space", "down", "p")  # the baseline sorts first among the marks
        browser.sort_by("mark")
        marks = [str(models.get_cell(r.key, "mark")) for r in models.ordered_rows]
        assert marks == ["◆ base", "●", ""]
