"""Held-out test metrics with their uncertainty, at a threshold frozen on validation first.

The order matters: the threshold is picked on the validation split (which also drove early
stopping) and only then is the test split scored, once. Intervals resample patients, not images,
when patient ids exist, because images of one patient are not independent.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)

from medcam_core.config import EvaluationSpec
from medcam_core.outputs.metrics_schema import ConfidenceIntervals, Evaluation, SplitMetrics, TestMetrics

CI_METRICS = ("auroc", "sensitivity", "specificity", "accuracy")


def choose_threshold(y_val: np.ndarray, p_val: np.ndarray, spec: EvaluationSpec) -> float:
    """Youden's J (max sensitivity + specificity − 1), or the highest threshold reaching the target."""
    fpr, tpr, thr = roc_curve(y_val, p_val)
    thr = np.clip(thr, 0.0, 1.0)
    if spec.threshold == "sensitivity":
        ok = np.flatnonzero(tpr >= spec.target_sensitivity)
        return float(thr[ok[0]]) if len(ok) else 0.0
    return float(thr[int(np.argmax(tpr - fpr))])


def metrics_at(y: np.ndarray, p: np.ndarray, threshold: float) -> SplitMetrics:
    y = np.asarray(y).astype(int)
    pred = (np.asarray(p) >= threshold).astype(int)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[0, 1]).ravel())
    both = len(np.unique(y)) == 2
    return {
        "accuracy": (tp + tn) / max(1, len(y)),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "sensitivity": tp / (tp + fn) if tp + fn else 0.0,
        "specificity": tn / (tn + fp) if tn + fp else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        "auroc": float(roc_auc_score(y, p)) if both else None,
        "auprc": float(average_precision_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p, pos_label=1)) if len(y) else None,
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }


def bootstrap_ci(
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    groups: Sequence[str] | None,
    resamples: int,
    confidence: float,
    seed: int,
) -> ConfidenceIntervals:
    """Percentile intervals over resampled patients (or images when no ids), seeded."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    pred = p >= threshold
    keys = np.asarray(groups if groups is not None else np.arange(len(y)).astype(str))
    uniq, inverse = np.unique(keys, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(uniq))]
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {m: [] for m in CI_METRICS}
    for _ in range(resamples):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([members[g] for g in pick])
        yy, pp, hard = y[idx], p[idx], pred[idx]
        pos, neg = yy == 1, yy == 0
        values["accuracy"].append(float((hard == yy).mean()))
        if pos.any():
            values["sensitivity"].append(float(hard[pos].mean()))
        if neg.any():
            values["specificity"].append(float((~hard[neg]).mean()))
        if pos.any() and neg.any():
            values["auroc"].append(float(roc_auc_score(yy, pp)))
    alpha = (1 - confidence) / 2

    def interval(metric: str) -> list[float] | None:
        v = values[metric]
        return [float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha))] if len(v) >= 10 else None

    return {
        "auroc": interval("auroc"),
        "sensitivity": interval("sensitivity"),
        "specificity": interval("specificity"),
        "accuracy": interval("accuracy"),
    }


def evaluate(
    y_val: np.ndarray,
    p_val: np.ndarray,
    y_test: np.ndarray,
    p_test: np.ndarray,
    test_patients: Sequence[str] | None,
    spec: EvaluationSpec,
    seed: int,
) -> Evaluation:
    """The threshold chosen on validation, then the test split scored once (metrics.json's first part)."""
    threshold = choose_threshold(y_val, p_val, spec)
    n_groups = len(set(test_patients)) if test_patients is not None else len(y_test)
    test: TestMetrics = {
        **metrics_at(y_test, p_test, threshold),
        "n": {"positive": int(np.sum(y_test == 1)), "negative": int(np.sum(y_test == 0))},
        "patients": n_groups,
        "ci": bootstrap_ci(y_test, p_test, threshold, test_patients, spec.bootstrap, spec.confidence, seed),
    }
    val = metrics_at(y_val, p_val, threshold)
    return {
        "threshold": {
            "value": threshold,
            "method": spec.threshold,
            "target_sensitivity": spec.target_sensitivity if spec.threshold == "sensitivity" else None,
            "chosen_on": "validation",
        },
        "test": test,
        "ci_level": spec.confidence,
        "bootstrap": {
            "resamples": spec.bootstrap,
            "unit": "patient" if test_patients is not None else "image",
            "seed": seed,
        },
        "validation": {
            "note": "validation drove early stopping and the threshold; it is not a held-out estimate",
            "auroc": val["auroc"],
            "n": {"positive": int(np.sum(y_val == 1)), "negative": int(np.sum(y_val == 0))},
        },
    }
