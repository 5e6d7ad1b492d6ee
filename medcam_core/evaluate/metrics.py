"""Held-out test metrics with their uncertainty, at a threshold frozen on validation first.

The order matters: the threshold is picked on the validation split (which also drove early
stopping) and only then is the test split scored, once.

Intervals (`EvaluationSpec.interval`): "analytic" (default) gives proportions the Wilson interval,
cluster-corrected by a design effect when patients contribute several images, and the AUROC the
DeLong interval (Obuchowski's clustered variance when patients repeat), see `intervals`;
"bootstrap" resamples patients (images when there are no ids), but a proportion's interval never
comes out narrower than the Wilson interval of its own counts, and a zero-width AUROC interval
(perfect separation) is replaced by the analytic one; `test.ci_notes` says when either happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)

from medcam_core.config import EvaluationSpec
from medcam_core.evaluate.intervals import (
    Estimate,
    auroc_estimate,
    bootstrap_resamples,
    proportion_estimate,
    wilson,
)
from medcam_core.outputs.metrics_schema import (
    BootstrapInfo,
    CiMethods,
    ConfidenceIntervals,
    Evaluation,
    SplitMetrics,
    TestMetrics,
)

CI_METRICS = ("auroc", "sensitivity", "specificity", "accuracy", "precision")
PROPORTIONS = CI_METRICS[1:]


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


def _proportions(y: np.ndarray, pred: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per proportion: which images it counts (a mask) and, per image, whether it is a hit."""
    pos, neg = y == 1, y == 0
    return {
        "sensitivity": (pos, pred),
        "specificity": (neg, ~pred),
        "accuracy": (np.ones(len(y), dtype=bool), pred == pos),
        "precision": (pred, pos),
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
    """Percentile intervals over resampled patients (or images when no ids), seeded; raw, no floor."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    pred = p >= threshold
    values: dict[str, list[float]] = {m: [] for m in CI_METRICS}
    for idx in bootstrap_resamples(groups, len(y), resamples, seed):
        yy, pp, hard = y[idx], p[idx], pred[idx]
        pos, neg = yy == 1, yy == 0
        values["accuracy"].append(float((hard == yy).mean()))
        if pos.any():
            values["sensitivity"].append(float(hard[pos].mean()))
        if neg.any():
            values["specificity"].append(float((~hard[neg]).mean()))
        if hard.any():
            values["precision"].append(float(pos[hard].mean()))
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
        "precision": interval("precision"),
    }


def analytic_ci(
    y: np.ndarray, p: np.ndarray, threshold: float, groups: Sequence[str] | None, confidence: float
) -> dict[str, Estimate]:
    """Wilson (cluster-corrected when patients repeat) for the proportions, DeLong for the AUROC."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    g = np.asarray(groups) if groups is not None else None
    out = {"auroc": auroc_estimate(y, p, confidence, groups)}
    for metric, (counted, hit) in _proportions(y, p >= threshold).items():
        out[metric] = proportion_estimate(hit[counted], g[counted] if g is not None else None, confidence)
    return out


def _joined(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def bootstrap_estimates(
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    groups: Sequence[str] | None,
    spec: EvaluationSpec,
    seed: int,
) -> dict[str, Estimate]:
    """Bootstrap intervals, floored: a proportion's never narrower than the plain Wilson interval of
    its counts, the AUROC's never of zero width (then DeLong's); analytic where the bootstrap has none."""
    y = np.asarray(y).astype(int)
    boot = bootstrap_ci(y, p, threshold, groups, spec.bootstrap, spec.confidence, seed)
    analytic = analytic_ci(y, p, threshold, groups, spec.confidence)
    method = f"percentile bootstrap over {'patients' if groups is not None else 'images'}"
    proportions = _proportions(y, np.asarray(p) >= threshold)
    counts = {m: (int(hit[c].sum()), int(c.sum())) for m, (c, hit) in proportions.items()}
    out: dict[str, Estimate] = {}
    for metric in CI_METRICS:
        b, a = boot[metric], analytic[metric]
        if b is None:
            why = f"the bootstrap had too few usable resamples ({spec.bootstrap})"
            out[metric] = replace(a, note=_joined(why + f"; {a.method} reported", a.note)) if a.interval else a
            continue
        estimate = Estimate(a.value, (b[0], b[1]), method)
        if metric == "auroc":
            if b[1] - b[0] < 1e-9 and a.interval is not None:
                why = f"bootstrap interval [{b[0]:.3f}, {b[1]:.3f}] has zero width; {a.method} reported"
                estimate = replace(a, note=_joined(why, a.note))
        else:
            k, n = counts[metric]
            floor = wilson(k, n, spec.confidence)
            if floor is not None and b[1] - b[0] < floor[1] - floor[0]:
                why = f"bootstrap interval [{b[0]:.3f}, {b[1]:.3f}] narrower than the Wilson interval of {k}/{n}"
                estimate = Estimate(a.value, floor, "Wilson (bootstrap was narrower)", why + "; Wilson reported")
        out[metric] = estimate
    return out


def _as_list(interval: tuple[float, float] | None) -> list[float] | None:
    return [float(interval[0]), float(interval[1])] if interval is not None else None


def ci_figures(
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    groups: Sequence[str] | None,
    spec: EvaluationSpec,
    seed: int,
) -> tuple[ConfidenceIntervals, CiMethods, dict[str, str]]:
    """`test.ci`, `test.ci_method` and `test.ci_notes` as `spec.interval` asks."""
    if spec.interval == "bootstrap":
        f = bootstrap_estimates(y, p, threshold, groups, spec, seed)
    else:
        f = analytic_ci(y, p, threshold, groups, spec.confidence)
    ci: ConfidenceIntervals = {
        "auroc": _as_list(f["auroc"].interval),
        "sensitivity": _as_list(f["sensitivity"].interval),
        "specificity": _as_list(f["specificity"].interval),
        "accuracy": _as_list(f["accuracy"].interval),
        "precision": _as_list(f["precision"].interval),
    }
    methods: CiMethods = {
        "auroc": f["auroc"].method,
        "sensitivity": f["sensitivity"].method,
        "specificity": f["specificity"].method,
        "accuracy": f["accuracy"].method,
        "precision": f["precision"].method,
    }
    return ci, methods, {m: f[m].note for m in CI_METRICS if f[m].note}


def score_split(
    y: np.ndarray, p: np.ndarray, threshold: float, patients: Sequence[str] | None, spec: EvaluationSpec, seed: int
) -> TestMetrics:
    """One held-out split scored at a threshold already frozen: metrics, counts and intervals."""
    ci, methods, notes = ci_figures(y, p, threshold, patients, spec, seed)
    return {
        **metrics_at(y, p, threshold),
        "n": {"positive": int(np.sum(y == 1)), "negative": int(np.sum(y == 0))},
        "patients": len(set(patients)) if patients is not None else len(y),
        "ci": ci,
        "ci_method": methods,
        "ci_notes": notes,
    }


def bootstrap_info(spec: EvaluationSpec, seed: int, by_patient: bool) -> BootstrapInfo:
    unit = "patient" if by_patient else "image"
    return {
        "resamples": spec.bootstrap,
        "unit": unit,
        "seed": seed,
        "method": f"percentile bootstrap over {unit}s"
        + ("" if spec.interval == "bootstrap" else '; not used for test.ci (interval = "analytic")'),
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
    val = metrics_at(y_val, p_val, threshold)
    return {
        "threshold": {
            "value": threshold,
            "method": spec.threshold,
            "target_sensitivity": spec.target_sensitivity if spec.threshold == "sensitivity" else None,
            "chosen_on": "validation",
        },
        "test": score_split(y_test, p_test, threshold, test_patients, spec, seed),
        "ci_level": spec.confidence,
        "bootstrap": bootstrap_info(spec, seed, test_patients is not None),
        "validation": {
            "note": "validation drove early stopping and the threshold; it is not a held-out estimate",
            "auroc": val["auroc"],
            "n": {"positive": int(np.sum(y_val == 1)), "negative": int(np.sum(y_val == 0))},
        },
    }
