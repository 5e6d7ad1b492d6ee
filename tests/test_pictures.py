"""A job's test-split pictures: real PNGs of a sensible size, an ECE that an independent computation
reproduces (and that is zero for a perfectly calibrated model), the operating point metrics.json counts,
a seeded band; and the model browser's terminal ROC, read in a worker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score, roc_curve
from textual.app import App

from medcam_core.evaluate.metrics import metrics_at
from medcam_core.outputs.job_folder import JobFolder, read_predictions, write_predictions
from medcam_core.outputs.pictures import (
    CALIBRATION_BINS,
    FPR_GRID,
    expected_calibration_error,
    operating_point,
    roc_band,
    split_scores,
    write_pictures,
)
from medcam_core.serialize import write_json_atomic

METRICS = {
    "threshold": {"value": 0.5, "method": "youden", "chosen_on": "validation"},
    "bootstrap": {"unit": "patient", "resamples": 200, "seed": 7},
    "ci_level": 0.95,
}


def scored_rows(n_pos: int = 29, n_neg: int = 31, seed: int = 0) -> list[dict]:
    """Test rows of a middling model (two images per patient) and validation rows that must be ignored."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_pos + n_neg):
        label = int(i < n_pos)
        p = float(np.clip(rng.normal(0.62 if label else 0.38, 0.2), 0.0, 1.0))
        rows.append({"split": "test", "path": f"t{i}.png", "patient": f"p{i // 2}", "label": label, "probability": p})
    val = {"split": "val", "label": 1, "probability": 0.01}
    rows += [{**val, "path": f"v{i}.png", "patient": f"v{i}"} for i in range(9)]
    return rows


def ece_by_hand(y: np.ndarray, p: np.ndarray, bins: int) -> float:
    """Independent ECE: loop over the equal-width bins (lo, hi], the first one closed at 0."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for k in range(bins):
        inside = (p > edges[k]) & (p <= edges[k + 1]) if k else (p >= 0.0) & (p <= edges[1])
        if inside.any():
            total += inside.sum() / len(p) * abs(p[inside].mean() - y[inside].mean())
    return float(total)


def test_the_three_pictures_are_real_pngs_of_a_sensible_size(tmp_path: Path) -> None:
    folder = JobFolder(tmp_path / "densenet121_p_standard_models")
    rows = scored_rows()
    summary = write_pictures(folder, rows, METRICS, "Pneumonia — standard")
    assert summary.written == [folder.roc_file, folder.pr_file, folder.calibration_file]
    for path in summary.written:
        assert path.parent == folder.results_dir and path.stat().st_size > 10_000
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.format == "PNG"
            width, height = image.size
            assert 450 <= width <= 1200 and 450 <= height <= 1200, (path.name, image.size)
            assert len(set(image.convert("L").getdata())) > 20  # drawn on, not blank
    assert "200 bootstrap resamples of patients" in summary.band and "95%" in summary.band
    test = split_scores(rows)
    assert len(test.labels) == 60  # validation rows are left out
    assert summary.ece == pytest.approx(ece_by_hand(test.labels, test.probabilities, CALIBRATION_BINS), abs=1e-12)
    assert summary.brier == pytest.approx(np.mean((test.probabilities - test.labels) ** 2))


def test_ece_matches_an_independent_computation_on_the_same_bins() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 500)
    p[:11] = np.linspace(0.0, 1.0, 11)  # probabilities on the bin edges go where sklearn puts them
    y = (rng.uniform(0, 1, 500) < p**1.5).astype(int)  # over-confident: the ECE is well above zero
    ece = expected_calibration_error(y, p, 10)
    assert ece == pytest.approx(ece_by_hand(y, p, 10), abs=1e-12)
    assert ece > 0.05
    # and the same bins as the reliability diagram's (sklearn's calibration_curve)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    edges = np.linspace(0, 1, 11)
    pairs = zip(edges[:-1], edges[1:], strict=True)
    counts = [((p > lo) & (p <= hi)).sum() + (lo == 0) * (p == 0).sum() for lo, hi in pairs]
    counts = np.array([c for c in counts if c])
    assert ece == pytest.approx(float(np.sum(counts / len(p) * np.abs(prob_pred - prob_true))), abs=1e-12)


def test_a_perfectly_calibrated_model_has_zero_ece() -> None:
    # 20 images at each bin's centre probability v, exactly 20·v of them positive
    centres = np.arange(0.05, 1.0, 0.1)
    p = np.repeat(centres, 20)
    y = np.concatenate([np.r_[np.ones(round(v * 20)), np.zeros(20 - round(v * 20))] for v in centres])
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)
    assert ece_by_hand(y, p, 10) == pytest.approx(0.0, abs=1e-12)


def test_the_operating_point_is_the_one_metrics_json_counts() -> None:
    test = split_scores(scored_rows(seed=3))
    for threshold in (0.3, 0.5, float(np.sort(test.probabilities)[20])):  # one threshold equal to a score
        fpr, tpr = operating_point(test.labels, test.probabilities, threshold)
        m = metrics_at(test.labels, test.probabilities, threshold)
        assert (1 - fpr, tpr) == pytest.approx((m["specificity"], m["sensitivity"]))


def tpr_at(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """sklearn's ROC curve, read at each FPR of the grid (linear between its points)."""
    fpr, tpr, _ = roc_curve(y, p)
    return np.interp(FPR_GRID, fpr, tpr)


def test_the_roc_band_is_seeded_and_holds_the_curve() -> None:
    test = split_scores(scored_rows(seed=4))
    y, p = test.labels, test.probabilities
    first = roc_band(y, p, test.patients, 300, 0.95, seed=11)
    again = roc_band(y, p, test.patients, 300, 0.95, seed=11)
    other = roc_band(y, p, None, 300, 0.95, seed=12)
    assert first is not None and again is not None and other is not None
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])
    low, high = first
    assert np.all((low >= 0) & (low <= high) & (high <= 1)) and len(low) == len(FPR_GRID)
    assert high[-1] == 1.0  # every ROC ends at (1, 1)
    curve = tpr_at(y, p)
    assert np.mean((curve >= low) & (curve <= high)) > 0.9  # the test curve lies in its band
    assert roc_band(np.array([1, 1, 0]), np.array([0.9, 0.8, 0.1]), None, 5, 0.95, 0) is None  # too few


@pytest.mark.parametrize("by_patient", [True, False])
def test_the_roc_band_equals_one_sklearn_curve_per_resample(by_patient: bool) -> None:
    """Against sklearn's `roc_curve` on each resample drawn out in full, on scores with many ties
    (rounded to 0.05) so vertical and diagonal steps both occur."""
    rng = np.random.default_rng(5)
    y = (rng.random(40) < 0.3).astype(int)
    p = np.round(np.clip(0.35 * y + rng.random(40) * 0.65, 0, 1) / 0.05) * 0.05
    patients = [f"p{i // 3}" for i in range(40)] if by_patient else None
    keys = np.asarray(patients if patients is not None else np.arange(40).astype(str))
    uniq, inverse = np.unique(keys, return_inverse=True)
    draws = np.random.default_rng(9)
    curves = []
    for _ in range(400):
        idx = np.concatenate([np.flatnonzero(inverse == g) for g in draws.integers(0, len(uniq), len(uniq))])
        if 0 < y[idx].sum() < len(idx):
            curves.append(tpr_at(y[idx], p[idx]))
    band = roc_band(y, p, patients, 400, 0.9, seed=9)
    assert band is not None
    np.testing.assert_allclose(band[0], np.quantile(curves, 0.05, axis=0), atol=1e-12)
    np.testing.assert_allclose(band[1], np.quantile(curves, 0.95, axis=0), atol=1e-12)


def test_one_class_test_split_gets_only_the_reliability_diagram(tmp_path: Path) -> None:
    rows = [r for r in scored_rows() if r["label"] == 1]
    folder = JobFolder(tmp_path / "job")
    summary = write_pictures(folder, rows, METRICS, "one class")
    assert summary.written == [folder.calibration_file] and summary.band == ""
    assert not folder.roc_file.exists() and not folder.pr_file.exists()
    assert write_pictures(folder, [], METRICS, "empty").written == []


def test_predictions_round_trip(tmp_path: Path) -> None:
    rows = scored_rows()
    path = tmp_path / "predictions.csv"
    write_predictions(path, rows)
    back = read_predictions(path)
    assert [(r["split"], r["path"], r["patient"], r["label"]) for r in back] == [
        (r["split"], r["path"], r["patient"], r["label"]) for r in rows
    ]
    assert [r["probability"] for r in back] == pytest.approx([r["probability"] for r in rows], abs=1e-8)
    path.write_text("split,path,label\n", encoding="utf-8")
    with pytest.raises(ValueError, match="patient, probability"):
        read_predictions(path)


async def test_the_model_browser_draws_the_test_roc_read_in_a_worker(tmp_path: Path) -> None:
    from medcam_tui.screens.browser import ModelBrowser

    rows = scored_rows(seed=6)
    with_predictions = JobFolder(tmp_path / "densenet121_a_standard_models")
    write_json_atomic(with_predictions.metrics_file, METRICS)
    write_predictions(with_predictions.predictions_file, rows)
    without = JobFolder(tmp_path / "densenet121_b_standard_models")
    write_json_atomic(without.metrics_file, METRICS)
    test = split_scores(rows)
    auroc = roc_auc_score(test.labels, test.probabilities)

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(ModelBrowser([("a_standard", with_predictions.root), ("b_standard", without.root)]))

    app = Host()
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ModelBrowser)
        for _ in range(400):
            if "a_standard" in screen.rocs:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        roc = screen.rocs["a_standard"]
        assert not isinstance(roc, str) and roc.auroc == pytest.approx(auroc)
        assert (roc.positives, roc.negatives) == (29, 31)
        assert roc.point == pytest.approx(operating_point(test.labels, test.probabilities, 0.5))
        assert roc.fpr[0] == 0.0 and roc.tpr[-1] == 1.0
        plot = screen.query_one("#plot-roc").plt
        rendered = plot.build()
        assert f"AUROC {auroc:.3f}" in rendered and "29+/31−" in rendered
        await pilot.press("down")  # the model without predictions.csv says so, and nothing is read
        await pilot.pause()
        assert screen.rocs["b_standard"] == "no results/predictions.csv"
        assert "no results/predictions.csv" in plot.build()
