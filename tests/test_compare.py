"""Paired comparisons of two models on the same images, each against an independent computation.

Sources: the paired DeLong test (DeLong, DeLong & Clarke-Pearson 1988) with its covariance from
structural components written as double loops (`test_intervals.delong_brute`); the exact McNemar
test as `scipy.stats.binomtest(b, b + c, 0.5)` on the discordant pairs (McNemar 1947); Holm (1979)
worked by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest, norm

from medcam_core.evaluate.compare import holm, mcnemar_exact, paired_delong
from medcam_core.evaluate.intervals import separation_bound

from test_intervals import delong_brute, small_sample


def test_identical_models_differ_by_nothing() -> None:
    y, s = small_sample(1, 50)
    for other in (s, s * 3 + 1, np.exp(s)):  # the same ranking, whatever the scale
        out = paired_delong(y, s, other)
        assert out.delta == 0.0 and out.p_value == 1.0 and out.auroc_a == out.auroc_b
        assert out.ci == (0.0, 0.0)


def test_paired_test_matches_the_double_loop_covariance() -> None:
    y, a = small_sample(2, 40)
    b = np.round(np.random.default_rng(9).random(40) * 0.6 + y * 0.2, 1)
    theta, cov = delong_brute(y, [a, b])
    delta = theta[0] - theta[1]
    se = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    out = paired_delong(y, a, b)
    assert (out.auroc_a, out.auroc_b) == pytest.approx(tuple(theta), abs=1e-12)
    assert out.delta == pytest.approx(delta, abs=1e-12)
    assert out.p_value == pytest.approx(2 * norm.sf(abs(delta) / se), rel=1e-9)
    assert out.ci == pytest.approx((delta - norm.ppf(0.975) * se, delta + norm.ppf(0.975) * se), rel=1e-9)
    assert out.method == "paired DeLong (Sun & Xu)"
    swapped = paired_delong(y, b, a)
    assert swapped.delta == pytest.approx(-delta) and swapped.p_value == pytest.approx(out.p_value)


def test_a_clear_difference_is_significant() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(30), np.zeros(30)].astype(int)
    perfect = np.r_[rng.uniform(0.6, 1, 30), rng.uniform(0, 0.4, 30)]
    near_random = np.clip(rng.random(60) + 0.05 * y, 0, 1)
    out = paired_delong(y, perfect, near_random)
    assert out.auroc_a == 1.0 and 0.35 < out.auroc_b < 0.75
    assert out.p_value < 0.01 and out.ci[0] > 0 and out.ci[1] <= 1


def test_one_image_per_patient_clustered_paired_equals_unclustered() -> None:
    y, a = small_sample(5, 60)
    b = np.round(np.random.default_rng(5).random(60) * 0.7 + y * 0.25, 1)
    plain = paired_delong(y, a, b)
    clustered = paired_delong(y, a, b, groups=[f"p{i}" for i in range(60)])
    assert clustered.p_value == pytest.approx(plain.p_value) and clustered.ci == pytest.approx(plain.ci)
    repeated = paired_delong(y, a, b, groups=[f"p{i // 3}" for i in range(60)])
    assert repeated.method.startswith("paired DeLong, clustered") and repeated.delta == pytest.approx(plain.delta)


def test_opposite_perfect_separations_use_the_pairs_bound() -> None:
    y = np.r_[np.ones(12), np.zeros(15)].astype(int)
    s = np.r_[np.linspace(0.6, 1, 12), np.linspace(0, 0.5, 15)]
    out = paired_delong(y, s, 1 - s)
    assert out.delta == 1.0 and out.p_value == pytest.approx(2 * 0.5**12)
    assert out.ci == pytest.approx((2 * separation_bound(12) - 1, 1.0))


def test_one_class_is_nan_not_a_crash() -> None:
    out = paired_delong(np.zeros(10, int), np.linspace(0, 1, 10), np.linspace(1, 0, 10))
    assert math.isnan(out.delta) and math.isnan(out.p_value) and "one class" in out.method


@pytest.mark.parametrize(
    "a_only,b_only,both,neither", [(0, 0, 10, 2), (7, 1, 20, 3), (3, 3, 5, 5), (0, 9, 1, 0), (25, 14, 40, 1)]
)
def test_mcnemar_exact_is_the_binomial_test_of_the_discordant_pairs(
    a_only: int, b_only: int, both: int, neither: int
) -> None:
    correct_a = np.array([True] * a_only + [False] * b_only + [True] * both + [False] * neither)
    correct_b = np.array([False] * a_only + [True] * b_only + [True] * both + [False] * neither)
    out = mcnemar_exact(correct_a, correct_b)
    expected = 1.0 if a_only + b_only == 0 else binomtest(a_only, a_only + b_only, 0.5).pvalue
    assert out.p_value == pytest.approx(expected, rel=1e-12)
    assert (out.discordant_a_only, out.discordant_b_only, out.n) == (a_only, b_only, len(correct_a))
    assert out.a == pytest.approx(correct_a.mean()) and out.b == pytest.approx(correct_b.mean())
    assert out.method == "exact McNemar"


def test_mcnemar_of_no_images() -> None:
    out = mcnemar_exact(np.array([], bool), np.array([], bool))
    assert out.n == 0 and out.p_value == 1.0 and math.isnan(out.a)
    with pytest.raises(ValueError):
        mcnemar_exact(np.ones(3, bool), np.ones(4, bool))


def test_holm_by_hand() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == [1.0, 1.0]  # 0.5 × 2 = 1, capped
    assert holm([0.02]) == [0.02] and holm([]) == []
    out = holm([0.04, float("nan"), 0.01])  # NaN kept, not counted: m = 2
    assert out[0] == pytest.approx(0.04) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)
