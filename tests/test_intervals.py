"""Analytic intervals, each checked against a computation that does not share its code.

Sources: Wilson (1927) and Clopper & Pearson (1934) as implemented by
`scipy.stats.binomtest(...).proportion_ci(method="wilson" / "exact")`; DeLong, DeLong &
Clarke-Pearson (1988) structural components and Obuchowski (1997) clustered variance written out
as explicit loops over positive–negative pairs and patients; Kish's design effect 1 + (m − 1)ρ for
equal clusters (Kish 1965, Survey Sampling); the Hanley & McNeil (1982, Radiology 143:29–36) CT
rating table, whose area they report as 0.893.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest, norm
from sklearn.metrics import roc_auc_score

from medcam_core.config import EvaluationSpec
from medcam_core.config_rules import EVALUATION_RULES, checked
from medcam_core.errors import ConfigError
from medcam_core.evaluate.intervals import (
    auroc_estimate,
    clopper_pearson,
    delong_auroc,
    delong_covariance,
    design_effect,
    independent_pairs,
    proportion_estimate,
    proportion_interval,
    separation_bound,
    wilson,
)
from medcam_core.evaluate.metrics import evaluate

COUNTS = [(0, 1), (1, 1), (0, 5), (5, 5), (0, 29), (29, 29), (28, 29), (1, 29), (3, 10), (50, 100), (97, 100)]


# --- proportions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("k,n", COUNTS)
def test_wilson_and_clopper_pearson_match_scipy(k: int, n: int, confidence: float) -> None:
    """scipy.stats.binomtest(k, n).proportion_ci (Wilson 1927 without continuity correction; exact)."""
    ref = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert wilson(k, n, confidence) == pytest.approx((ref.low, ref.high), abs=1e-12)
    ref = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    assert clopper_pearson(k, n, confidence) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_the_edges_are_never_a_point() -> None:
    low, high = wilson(29, 29)
    assert high == 1.0 and low == pytest.approx(29 / (29 + norm.ppf(0.975) ** 2)) and 0.88 < low < 0.885
    assert wilson(0, 29)[0] == 0.0 and wilson(0, 29)[1] == pytest.approx(1 - low)
    assert clopper_pearson(29, 29) == pytest.approx((0.025 ** (1 / 29), 1.0))  # CP of n/n: (α/2)^(1/n)
    assert wilson(0, 0) is None and clopper_pearson(0, 0) is None and proportion_interval(np.array([], bool)) is None
    with pytest.raises(ValueError):
        wilson(6, 5)


def test_one_image_per_patient_is_plain_wilson() -> None:
    rng = np.random.default_rng(3)
    hits = rng.random(40) < 0.7
    plain = wilson(int(hits.sum()), 40)
    assert proportion_interval(hits, None) == plain
    assert proportion_interval(hits, [f"p{i}" for i in range(40)]) == plain
    assert proportion_estimate(hits, [f"p{i}" for i in range(40)]).method == "Wilson"


def rao_scott_deff(hits: list[bool], groups: list[str]) -> float:
    """Rao & Scott (1992) ratio-estimator design effect, patient by patient, unclipped."""
    patients = sorted(set(groups))
    m = [sum(1 for g in groups if g == q) for q in patients]
    k = [sum(1 for h, g in zip(hits, groups, strict=True) if g == q and h) for q in patients]
    n, big_k = sum(m), len(patients)
    p = sum(k) / n
    v = big_k / (big_k - 1) * sum((ki - p * mi) ** 2 for ki, mi in zip(k, m, strict=True)) / n**2
    return v / (p * (1 - p) / n)


def test_design_effect_is_rao_scott_clipped_to_its_range() -> None:
    rng = np.random.default_rng(5)
    groups = [f"p{i}" for i in rng.integers(0, 25, 90)]
    m = np.unique(groups, return_counts=True)[1]
    hits = list(rng.random(90) < 0.6)
    deff, note = design_effect(np.array(hits), groups)
    assert deff == pytest.approx(min(max(1.0, rao_scott_deff(hits, groups)), float((m**2).sum()) / 90)) and not note
    # images of a patient always agree, equal clusters of 4: the ICC-1 design effect, 4
    agree = [h for h in rng.random(30) < 0.5 for _ in range(4)]
    assert design_effect(np.array(agree), [f"p{i // 4}" for i in range(120)])[0] == pytest.approx(4.0)


def test_design_effect_recovers_kish_for_a_known_correlation() -> None:
    """Beta-binomial patients (ρ = 1/(a+b+1) = 0.2), 4 images each: deff = 1 + (4−1)·0.2 = 1.6 (Kish)."""
    rng = np.random.default_rng(11)
    groups = [f"p{i // 4}" for i in range(800)]
    found = []
    for _ in range(300):
        rate = rng.beta(2.0, 2.0, 200)  # mean 0.5, ρ = 1/5
        found.append(design_effect(rng.random((200, 4)) < rate[:, None], groups)[0])
    assert np.mean(found) == pytest.approx(1.6, abs=0.08)


def test_cluster_corrected_interval_keeps_its_coverage_where_plain_wilson_does_not() -> None:
    rng = np.random.default_rng(12)
    groups = [f"p{i // 4}" for i in range(240)]
    plain = corrected = 0
    sims = 600
    for _ in range(sims):
        rate = rng.beta(1.2, 0.3, 60)  # mean 0.8, ρ = 1/(1.2+0.3+1) = 0.4: deff 1 + 3·0.4 = 2.2
        hits = (rng.random((60, 4)) < rate[:, None]).ravel()
        lo, hi = proportion_interval(hits, groups)
        corrected += lo <= 0.8 <= hi
        lo, hi = wilson(int(hits.sum()), 240)
        plain += lo <= 0.8 <= hi
        assert proportion_interval(hits, groups)[1] - proportion_interval(hits, groups)[0] >= hi - lo - 1e-12
    assert corrected / sims > 0.92 and plain / sims < 0.87


def test_all_hits_over_repeated_patients_fall_back_to_the_patients() -> None:
    hits = np.ones(29, dtype=bool)
    groups = [f"p{i % 10}" for i in range(29)]  # 10 patients, 3 or 2 images each
    est = proportion_estimate(hits, groups)
    m = np.bincount([i % 10 for i in range(29)])
    n_eff = 29**2 / float((m**2).sum())  # Kish's effective number of patients
    assert est.interval == pytest.approx((n_eff / (n_eff + norm.ppf(0.975) ** 2), 1.0))
    assert est.interval[0] < wilson(29, 29)[0] and "worst case" in est.note and est.method.endswith("corrected")


# --- AUROC ---------------------------------------------------------------------------------------


def psi(x: float, y: float) -> float:
    return 1.0 if x > y else 0.5 if x == y else 0.0


def delong_brute(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs and DeLong (1988) covariance, the structural components as explicit double loops."""
    k = len(scores)
    pos = [i for i in range(len(y)) if y[i] == 1]
    neg = [j for j in range(len(y)) if y[j] == 0]
    m, n = len(pos), len(neg)
    v10, v01 = np.zeros((k, m)), np.zeros((k, n))
    for r, s in enumerate(scores):
        for a, i in enumerate(pos):
            for b, j in enumerate(neg):
                v10[r, a] += psi(s[i], s[j]) / n
                v01[r, b] += psi(s[i], s[j]) / m
    theta = v10.mean(axis=1)
    cov = np.zeros((k, k))
    for r in range(k):
        for q in range(k):
            s10 = sum((v10[r, a] - theta[r]) * (v10[q, a] - theta[q]) for a in range(m)) / (m - 1)
            s01 = sum((v01[r, b] - theta[r]) * (v01[q, b] - theta[q]) for b in range(n)) / (n - 1)
            cov[r, q] = s10 / m + s01 / n
    return theta, cov


def obuchowski_brute(y: np.ndarray, s: np.ndarray, groups: list[str]) -> float:
    """Obuchowski (1997) clustered variance of one AUROC, cluster by cluster, pair by pair."""
    pos = [i for i in range(len(y)) if y[i] == 1]
    neg = [i for i in range(len(y)) if y[i] == 0]
    big_m, big_n = len(pos), len(neg)
    theta = sum(psi(s[i], s[j]) for i in pos for j in neg) / (big_m * big_n)
    v10 = {i: sum(psi(s[i], s[j]) for j in neg) / big_n for i in pos}
    v01 = {j: sum(psi(s[i], s[j]) for i in pos) / big_m for j in neg}
    clusters = sorted(set(groups))
    a10, a01 = {}, {}
    for c in clusters:
        members_pos = [i for i in pos if groups[i] == c]
        members_neg = [j for j in neg if groups[j] == c]
        a10[c] = sum(v10[i] for i in members_pos) - len(members_pos) * theta
        a01[c] = sum(v01[j] for j in members_neg) - len(members_neg) * theta
    i10 = sum(1 for c in clusters if any(groups[i] == c for i in pos))
    i01 = sum(1 for c in clusters if any(groups[j] == c for j in neg))
    big_i = len(clusters)
    s10 = i10 / ((i10 - 1) * big_m) * sum(a10[c] ** 2 for c in clusters)
    s01 = i01 / ((i01 - 1) * big_n) * sum(a01[c] ** 2 for c in clusters)
    s11 = big_i / (big_i - 1) * sum(a10[c] * a01[c] for c in clusters)
    return s10 / big_m + s01 / big_n + 2 * s11 / (big_m * big_n)


def small_sample(seed: int, size: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size)
    y[:2] = [0, 1]
    return y, np.round(y * 0.3 + rng.random(size) * 0.7, 1)  # rounded: plenty of ties


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_variance_matches_the_double_loop_definition(seed: int) -> None:
    y, s = small_sample(seed)
    theta, cov = delong_brute(y, [s])
    fast = delong_covariance(y, s)
    assert fast.aurocs[0] == pytest.approx(theta[0], abs=1e-12) == pytest.approx(roc_auc_score(y, s))
    assert fast.covariance[0, 0] == pytest.approx(cov[0, 0], rel=1e-10)
    assert not fast.clustered


@pytest.mark.parametrize("seed", [3, 4])
def test_clustered_variance_matches_obuchowski_written_out(seed: int) -> None:
    y, s = small_sample(seed, 40)
    groups = [f"p{i}" for i in np.random.default_rng(seed).integers(0, 12, 40)]  # mixed-label patients
    fast = delong_covariance(y, s, groups)
    assert fast.clustered and fast.covariance[0, 0] == pytest.approx(obuchowski_brute(y, s, groups), rel=1e-10)


def test_one_image_per_patient_clustered_equals_unclustered() -> None:
    y, s = small_sample(7, 50)
    ids = [f"p{i}" for i in range(50)]
    assert delong_covariance(y, s, ids).covariance[0, 0] == pytest.approx(delong_covariance(y, s).covariance[0, 0])
    assert obuchowski_brute(y, s, ids) == pytest.approx(delong_brute(y, [s])[1][0, 0])
    assert delong_auroc(y, s, groups=ids) == delong_auroc(y, s)


def test_hanley_mcneil_ct_table_area() -> None:
    """Hanley & McNeil (1982) Table 1: 58 normal / 51 abnormal CT ratings 1–5; area 0.893."""
    y = np.r_[np.zeros(58), np.ones(51)].astype(int)
    s = np.r_[np.repeat(np.arange(1, 6), [33, 6, 6, 11, 2]), np.repeat(np.arange(1, 6), [3, 2, 2, 11, 33])]
    auroc, (low, high), note = delong_auroc(y, s)
    assert round(auroc, 3) == 0.893 and low < auroc < high and note == ""


def test_interval_is_the_logit_wald_interval_of_the_delong_variance() -> None:
    y, s = small_sample(8, 60)
    theta, cov = delong_brute(y, [s])
    t, v = theta[0], cov[0, 0]
    z = norm.ppf(0.975)
    centre, half = math.log(t / (1 - t)), z * math.sqrt(v) / (t * (1 - t))
    expected = (1 / (1 + math.exp(-(centre - half))), 1 / (1 + math.exp(-(centre + half))))
    auroc, interval, _ = delong_auroc(y, s)
    assert auroc == pytest.approx(t) and interval == pytest.approx(expected, rel=1e-9)
    assert auroc_estimate(y, s).method == "DeLong (Sun & Xu)"


def test_delong_variance_matches_the_spread_over_samples() -> None:
    """Mean estimated variance ≈ the AUROC's variance over 400 independent samples, plain and clustered."""
    rng = np.random.default_rng(21)
    plain_est, plain_auc, clus_est, clus_auc, naive = [], [], [], [], []
    groups = [f"p{i // 3}" for i in range(180)]
    for _ in range(400):
        y = rng.integers(0, 2, 120)
        s = y + rng.normal(0, 1.2, 120)
        cov = delong_covariance(y, s)
        plain_est.append(cov.covariance[0, 0])
        plain_auc.append(cov.aurocs[0])
        label = np.repeat(rng.integers(0, 2, 60), 3)  # patient-level labels, a patient effect in the scores
        score = label + np.repeat(rng.normal(0, 1, 60), 3) + rng.normal(0, 0.7, 180)
        cov = delong_covariance(label, score, groups)
        clus_est.append(cov.covariance[0, 0])
        clus_auc.append(cov.aurocs[0])
        naive.append(delong_covariance(label, score).covariance[0, 0])
    assert np.mean(plain_est) / np.var(plain_auc, ddof=1) == pytest.approx(1.0, abs=0.2)
    assert np.mean(clus_est) / np.var(clus_auc, ddof=1) == pytest.approx(1.0, abs=0.2)
    assert np.mean(naive) / np.var(clus_auc, ddof=1) < 0.6  # ignoring the patients understates it


def test_perfect_separation_gives_the_exact_pairs_bound() -> None:
    y = np.r_[np.ones(29), np.zeros(40)].astype(int)
    s = np.r_[np.linspace(0.6, 1, 29), np.linspace(0, 0.5, 40)]
    auroc, (low, high), note = delong_auroc(y, s)
    assert auroc == 1.0 and high == 1.0 and low == pytest.approx(0.025 ** (1 / 29)) and 0.85 < low < 1
    assert "perfect separation" in note and "29 independent pairs" in note
    auroc, (low0, high0), note = delong_auroc(y, 1 - s)
    assert auroc == 0.0 and low0 == 0.0 and high0 == pytest.approx(1 - low) and "perfect separation" in note
    # patients: 10 with only positive images, 12 with only negative: 10 independent pairs
    groups = [f"a{i % 10}" for i in range(29)] + [f"b{i % 12}" for i in range(40)]
    auroc, (low, high), note = delong_auroc(y, s, groups=groups)
    assert (low, high) == (separation_bound(10), 1.0) and "10 independent patient-disjoint pairs" in note


def test_independent_pairs_counts_patients_on_both_sides() -> None:
    y = np.array([1, 1, 1, 0, 0, 1, 0, 1, 0])
    # A: +,+ ; B: + ; C: -,- ; D: +,- (both) ; E: +,- (both) → P=2, Q=1, B=2: min(4, 3, 2) = 2
    groups = ["A", "A", "B", "C", "C", "D", "D", "E", "E"]
    assert independent_pairs(y, groups) == 2
    assert independent_pairs(y, None) == 4


def test_one_class_gives_no_auroc_and_no_crash() -> None:
    assert delong_auroc(np.zeros(12, int), np.linspace(0, 1, 12)) == (
        None,
        None,
        "AUROC undefined: the test split holds negatives only",
    )
    assert delong_auroc(np.ones(3, int), np.ones(3))[:2] == (None, None)
    y = np.zeros(30, int)
    p = np.linspace(0, 1, 30)
    out = evaluate(np.r_[y, 1, 1], np.r_[p, 0.9, 0.95], y, p, None, EvaluationSpec(), seed=0)
    assert out["test"]["auroc"] is None and out["test"]["ci"]["auroc"] is None
    assert out["test"]["ci"]["sensitivity"] is None and out["test"]["ci"]["specificity"] is not None
    assert "negatives only" in out["test"]["ci_notes"]["auroc"]


def test_tied_scores_never_give_a_zero_width_interval() -> None:
    y = np.r_[np.ones(10), np.zeros(10)].astype(int)
    auroc, (low, high), note = delong_auroc(y, np.full(20, 0.5))
    assert auroc == 0.5 and low < 0.5 < high and "maximum" in note


# --- metrics.json --------------------------------------------------------------------------------


def perfect_split() -> tuple[np.ndarray, np.ndarray, list[str]]:
    y = np.r_[np.ones(29), np.zeros(31)].astype(int)
    p = np.r_[np.linspace(0.7, 1, 29), np.linspace(0, 0.3, 31)]
    return y, p, [f"p{i}" for i in range(60)]


def test_analytic_metrics_json_names_its_methods() -> None:
    y, p, ids = perfect_split()
    out = evaluate(y, p, y, p, ids, EvaluationSpec(), seed=1)
    test = out["test"]
    assert test["ci"]["sensitivity"] == pytest.approx(list(wilson(29, 29)))
    assert test["ci"]["specificity"] == pytest.approx(list(wilson(31, 31)))
    assert test["ci"]["precision"] == pytest.approx(list(wilson(29, 29)))
    assert test["ci"]["auroc"] == pytest.approx([0.025 ** (1 / 29), 1.0])
    assert test["ci_method"] == {
        "auroc": "exact pairs bound (Clopper–Pearson)",
        "sensitivity": "Wilson",
        "specificity": "Wilson",
        "accuracy": "Wilson",
        "precision": "Wilson",
    }
    assert set(test["ci_notes"]) == {"auroc"} and "perfect separation" in test["ci_notes"]["auroc"]
    assert out["bootstrap"]["unit"] == "patient" and "not used" in out["bootstrap"]["method"]


def test_bootstrap_mode_is_floored_at_wilson() -> None:
    y, p, ids = perfect_split()
    out = evaluate(y, p, y, p, ids, EvaluationSpec(interval="bootstrap", bootstrap=200), seed=1)
    test = out["test"]
    assert test["ci"]["sensitivity"] == pytest.approx(list(wilson(29, 29)))  # the bootstrap's [1, 1], widened
    assert test["ci_method"]["sensitivity"] == "Wilson (bootstrap was narrower)"
    assert "narrower than the Wilson interval of 29/29" in test["ci_notes"]["sensitivity"]
    assert test["ci"]["auroc"][0] < 1 and "zero width" in test["ci_notes"]["auroc"]
    assert out["bootstrap"]["method"] == "percentile bootstrap over patients"
    # away from the edge the bootstrap stands
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.25 + rng.random(300) * 0.75, 0, 1)
    test = evaluate(y, p, y, p, None, EvaluationSpec(interval="bootstrap", bootstrap=300), seed=2)["test"]
    assert test["ci_method"]["auroc"] == "percentile bootstrap over images"


def test_interval_is_a_checked_config_key() -> None:
    assert checked("f.toml", "evaluation", {"interval": "bootstrap"}, EVALUATION_RULES) == {"interval": "bootstrap"}
    with pytest.raises(ConfigError, match="analytic"):
        checked("f.toml", "evaluation", {"interval": "wald"}, EVALUATION_RULES)
    assert EvaluationSpec().interval == "analytic"
