"""A job's test-split pictures: ROC, precision–recall and a reliability diagram, from its predictions.

- `roc.png`: the test ROC with the operating point of the threshold chosen on validation, and a
  pointwise band: the TPR at each FPR of a fixed grid over seeded bootstrap resamples of the test
  split (patients, when the job's intervals resampled patients, else images), percentile limits at the
  job's confidence level — the same resampling unit, count, level and seed as metrics.json's intervals.
- `pr.png`: precision–recall with average precision and the prevalence baseline (a model that
  ranks at random).
- `calibration.png`: the reliability diagram on equal-width bins, with the expected calibration error
  (ECE) on those same bins and the Brier score in the title, and how many images fall in each bin.

sklearn draws the curves (`RocCurveDisplay`, `PrecisionRecallDisplay`, `CalibrationDisplay`); this module
adds the band, the operating point, the ECE and the histogram. Matplotlib runs headless (Agg).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medcam_core.evaluate.intervals import bootstrap_resamples
from medcam_core.outputs.job_folder import ExternalFolder, JobFolder
from medcam_core.outputs.metrics_schema import ExternalMetrics, Metrics

TEST_SPLIT = "test"
CALIBRATION_BINS = 10
FPR_GRID = np.linspace(0.0, 1.0, 101)
DPI = 110


@dataclass(frozen=True)
class Scores:
    """One split's labels (0/1), probabilities and patient ids, in the order of predictions.csv."""

    labels: np.ndarray
    probabilities: np.ndarray
    patients: list[str]
    paths: list[str]

    @property
    def both_classes(self) -> bool:
        return len(np.unique(self.labels)) == 2


@dataclass(frozen=True)
class PictureSummary:
    """What the pictures show, as numbers: written files and the calibration figures."""

    written: list[Path]
    ece: float | None
    brier: float | None
    bins: int
    band: str  # how the ROC band was made, in words; "" when no ROC was drawn


def split_scores(rows: Sequence[dict[str, Any]], split: str = TEST_SPLIT) -> Scores:
    """The rows of one split (predictions.csv's, or the evaluate stage's `ctx.predictions`)."""
    chosen = [r for r in rows if r["split"] == split]
    return Scores(
        labels=np.array([int(r["label"]) for r in chosen], dtype=int),
        probabilities=np.array([float(r["probability"]) for r in chosen], dtype=float),
        patients=[str(r["patient"]) for r in chosen],
        paths=[str(r["path"]) for r in chosen],
    )


def bin_ids(p: np.ndarray, bins: int = CALIBRATION_BINS) -> np.ndarray:
    """Equal-width bins on [0, 1] as sklearn's `calibration_curve(strategy="uniform")` makes them:
    bin k holds (k/bins, (k+1)/bins], the first one 0 too."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.searchsorted(edges[1:-1], np.asarray(p, dtype=float))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """ECE = Σ_k (n_k / n) · |mean predicted probability_k − observed positive share_k| over the bins
    of the reliability diagram (empty bins count zero)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    ids = bin_ids(p, bins)
    predicted = np.bincount(ids, weights=p, minlength=bins)
    observed = np.bincount(ids, weights=y, minlength=bins)
    return float(np.sum(np.abs(predicted - observed)) / max(1, len(y)))


def operating_point(y: np.ndarray, p: np.ndarray, threshold: float) -> tuple[float, float]:
    """(1 − specificity, sensitivity) of the rule "positive when p ≥ threshold", as metrics.json counts it."""
    y, hard = np.asarray(y).astype(int), np.asarray(p) >= threshold
    fpr = float(hard[y == 0].mean()) if np.any(y == 0) else float("nan")
    tpr = float(hard[y == 1].mean()) if np.any(y == 1) else float("nan")
    return fpr, tpr


def roc_band(
    y: np.ndarray,
    p: np.ndarray,
    groups: Sequence[str] | None,
    resamples: int,
    confidence: float,
    seed: int,
    grid: np.ndarray = FPR_GRID,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Pointwise percentile band of the TPR at each grid FPR over seeded bootstrap resamples of the
    groups (patients; images when `groups` is None). None when fewer than 10 resamples hold both classes.

    The resamples are metrics.json's intervals' own (`bootstrap_resamples`). Each is the test split with
    each image counted as often as it was drawn, so every resample's
    curve comes from one sort of the scores and the draw counts, a block of resamples at a time: 0.04 s
    for 1,000 resamples of 150 images, where a `roc_curve` per resample took 0.7 s."""
    y, p = np.asarray(y).astype(int), np.asarray(p, dtype=float)
    if resamples < 10 or len(np.unique(y)) < 2:
        return None
    draws = bootstrap_resamples(groups, len(y), resamples, seed)
    counts = np.stack([np.bincount(idx, minlength=len(y)) for idx in draws])  # times each image was drawn
    order = np.argsort(-p, kind="stable")
    ends = np.r_[np.flatnonzero(np.diff(p[order])), len(p) - 1]  # the last image of each tied score
    positive = y[order].astype(float)
    curves = []
    for block in np.array_split(counts, max(1, resamples // 100)):
        drawn = block[:, order].astype(float)  # a block at a time: (resamples, images) floats
        tps, fps = np.cumsum(drawn * positive, axis=1)[:, ends], np.cumsum(drawn * (1 - positive), axis=1)[:, ends]
        for tp, fp in zip(tps, fps, strict=True):
            if tp[-1] > 0 and fp[-1] > 0:
                curves.append(np.interp(grid, np.r_[0.0, fp / fp[-1]], np.r_[0.0, tp / tp[-1]]))
    if len(curves) < 10:
        return None
    alpha = (1 - confidence) / 2
    stacked = np.vstack(curves)
    return np.quantile(stacked, alpha, axis=0), np.quantile(stacked, 1 - alpha, axis=0)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_roc(
    path: Path,
    scores: Scores,
    threshold: float | None,
    title: str,
    *,
    by_patient: bool = True,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> str:
    """roc.png; returns how the band was made, in words (the legend says the same)."""
    from sklearn.metrics import RocCurveDisplay

    plt = _pyplot()
    y, p = scores.labels, scores.probabilities
    unit = "patients" if by_patient else "images"
    band = roc_band(y, p, scores.patients if by_patient else None, resamples, confidence, seed)
    how = (
        f"pointwise {confidence:.0%} band: TPR at fixed FPR, {resamples} bootstrap resamples of {unit} (seed {seed})"
        if band is not None
        else "no band: too few resamples held both classes"
    )
    fig, ax = plt.subplots(figsize=(5.4, 5.4))
    RocCurveDisplay.from_predictions(y, p, ax=ax, name="test", plot_chance_level=True)
    if band is not None:
        ax.fill_between(
            FPR_GRID,
            band[0],
            band[1],
            color="tab:blue",
            alpha=0.18,
            lw=0,
            label=f"{confidence:.0%} pointwise band (bootstrap of {unit})",
        )
    if threshold is not None:
        fpr, tpr = operating_point(y, p, threshold)
        ax.plot([fpr], [tpr], "o", color="tab:red", ms=8, label=f"threshold {threshold:.3f} (chosen on validation)")
        ax.annotate(
            f"sens {tpr:.3f}\nspec {1 - fpr:.3f}",
            (fpr, tpr),
            xytext=(12 if fpr < 0.6 else -78, -28),
            textcoords="offset points",
        )
    ax.set_xlabel("1 − specificity (false positive rate)")
    ax.set_ylabel("sensitivity (true positive rate)")
    ax.set_title(f"{title}\nROC, test split: {int(y.sum())} positive / {int((y == 0).sum())} negative", fontsize=10)
    ax.legend(loc="lower right", fontsize=7)
    fig.text(0.01, 0.005, how, fontsize=6.5, color="0.3")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return how


def write_pr(path: Path, scores: Scores, threshold: float | None, title: str) -> None:
    """pr.png: precision–recall, average precision, the prevalence baseline and the operating point."""
    from sklearn.metrics import PrecisionRecallDisplay

    plt = _pyplot()
    y, p = scores.labels, scores.probabilities
    fig, ax = plt.subplots(figsize=(5.4, 5.4))
    PrecisionRecallDisplay.from_predictions(y, p, ax=ax, name="test", plot_chance_level=True)
    if threshold is not None:
        hard = p >= threshold
        recall = float(hard[y == 1].mean())
        precision = float(y[hard].mean()) if hard.any() else 1.0
        ax.plot([recall], [precision], "o", color="tab:red", ms=8, label=f"threshold {threshold:.3f}")
    ax.set_xlabel("recall (sensitivity)")
    ax.set_ylabel("precision (positive predictive value)")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{title}\nprecision–recall, test split (baseline = prevalence {y.mean():.3f})", fontsize=10)
    ax.legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def write_calibration(path: Path, scores: Scores, title: str, bins: int = CALIBRATION_BINS) -> tuple[float, float]:
    """calibration.png: the reliability diagram over `bins` equal-width bins and their image counts;
    returns (ECE, Brier), both in the title."""
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import brier_score_loss

    plt = _pyplot()
    y, p = scores.labels, scores.probabilities
    ece = expected_calibration_error(y, p, bins)
    brier = float(brier_score_loss(y, p, pos_label=1))
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.4, 6.2), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    CalibrationDisplay.from_predictions(y, p, n_bins=bins, strategy="uniform", ax=ax, name="test")
    ax.set_xlabel("")
    ax.set_ylabel("observed share of positives")
    ax.set_title(f"{title}\nreliability, test split: ECE {ece:.3f} ({bins} bins) · Brier {brier:.3f}", fontsize=10)
    ax.legend(loc="upper left", fontsize=7)
    hist.hist(p, bins=np.linspace(0, 1, bins + 1), color="0.55")
    hist.set_xlabel("predicted probability")
    hist.set_ylabel("images")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return ece, brier


def write_pictures(
    folder: JobFolder | ExternalFolder,
    rows: Sequence[dict[str, Any]],
    metrics: Metrics | ExternalMetrics,
    title: str,
    split: str = TEST_SPLIT,
) -> PictureSummary:
    """The three pictures of the rows of `split` into `folder`'s results; ROC and PR need both classes."""
    scores = split_scores(rows, split)
    written: list[Path] = []
    if not len(scores.labels):
        return PictureSummary(written, None, None, CALIBRATION_BINS, "")
    threshold = metrics.get("threshold", {}).get("value")
    boot = metrics.get("bootstrap", {})
    how = ""
    folder.results_dir.mkdir(parents=True, exist_ok=True)
    if scores.both_classes:
        how = write_roc(
            folder.roc_file,
            scores,
            threshold,
            title,
            by_patient=boot.get("unit", "image") == "patient",
            resamples=int(boot.get("resamples", 1000)),
            confidence=float(metrics.get("ci_level", 0.95)),
            seed=int(boot.get("seed", 0)),
        )
        write_pr(folder.pr_file, scores, threshold, title)
        written += [folder.roc_file, folder.pr_file]
    ece, brier = write_calibration(folder.calibration_file, scores, title)
    written.append(folder.calibration_file)
    return PictureSummary(written, ece, brier, CALIBRATION_BINS, how)


@dataclass(frozen=True)
class RocCurve:
    """The test ROC as points (for a terminal plot), its AUROC and the threshold's operating point."""

    fpr: list[float]
    tpr: list[float]
    auroc: float | None  # None when the split holds one class
    point: tuple[float, float] | None  # (1 − specificity, sensitivity) at the threshold
    positives: int
    negatives: int


def roc_of(rows: Sequence[dict[str, Any]], threshold: float | None, split: str = TEST_SPLIT) -> RocCurve:
    """The ROC of one split's rows; empty points and no AUROC when the split lacks a class."""
    from sklearn.metrics import roc_auc_score, roc_curve

    scores = split_scores(rows, split)
    y, p = scores.labels, scores.probabilities
    positives, negatives = int(y.sum()), int((y == 0).sum())
    if not scores.both_classes:
        return RocCurve([], [], None, None, positives, negatives)
    fpr, tpr, _ = roc_curve(y, p)
    point = operating_point(y, p, threshold) if threshold is not None else None
    return RocCurve(fpr.tolist(), tpr.tolist(), float(roc_auc_score(y, p)), point, positives, negatives)
