"""Two models on the same test images, compared by paired tests, never by overlapping intervals.

- AUROC: the paired DeLong test (DeLong, DeLong & Clarke-Pearson 1988, Biometrics 44:837–845),
  covariance by Sun & Xu's (2014) midranks, clustered by Obuchowski (1997) when patients hold
  several images (`intervals.delong_covariance`).
- A proportion at each model's own threshold (sensitivity on the positives, specificity on the
  negatives, …): the exact McNemar test, i.e. the two-sided binomial test of the discordant pairs
  at ½ (McNemar 1947, Psychometrika 12:153–157; exact conditional form as in Fagerland, Lydersen &
  Laake 2013, BMC Med Res Methodol 13:91, who note it is conservative). The images are treated as
  independent pairs here; choose one image per patient first when patients repeat.
- Several comparisons: Holm's (1979, Scand J Statist 6:65–70) step-down adjustment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medcam_core.evaluate.intervals import delong_covariance, separation_bound, z_value


@dataclass(frozen=True)
class PairedAuroc:
    """Model a minus model b on the same images: AUROCs, their difference with its interval, p."""

    auroc_a: float
    auroc_b: float
    delta: float
    ci: tuple[float, float]
    p_value: float
    method: str


@dataclass(frozen=True)
class PairedProportion:
    """The same images scored as hits or misses by two models: the shares, discordant counts and p."""

    a: float  # share of hits of model a (NaN when n == 0)
    b: float
    n: int
    discordant_a_only: int  # images a gets right and b wrong
    discordant_b_only: int
    p_value: float
    method: str  # "exact McNemar"


NAN = float("nan")


def paired_delong(
    y: np.ndarray,
    p_a: np.ndarray,
    p_b: np.ndarray,
    confidence: float = 0.95,
    groups: Sequence[str] | None = None,
) -> PairedAuroc:
    """Paired DeLong test of AUROC(a) − AUROC(b) on the same images, with a Wald interval of the difference.

    Var(Δ) = Var_a + Var_b − 2 Cov_ab from the DeLong (clustered: Obuchowski) covariance;
    z = Δ / SE, two-sided normal p; the interval Δ ± z·SE is clipped to [−1, 1]. Edge cases:
    Var(Δ) = 0 with Δ = 0 (the two score sets order every positive–negative pair alike, e.g.
    identical scores) gives p = 1 and the interval (0, 0); when both models separate perfectly
    in opposite directions (Δ = ±1) p = min(1, 2·½^k) over k independent pairs (either model's
    perfect ordering of all k has probability ≤ min(θ^k, (1−θ)^k) ≤ ½^k under equal AUROCs), and the
    interval is [2L − 1, 1] from each model's exact bound L (`intervals.separation_bound`).
    With one class only every figure is NaN (JSON null) and `method` says why.
    """
    y = np.asarray(y).astype(int).ravel()
    if not (y == 1).any() or not (y == 0).any():
        return PairedAuroc(NAN, NAN, NAN, (NAN, NAN), NAN, "AUROC undefined: the test split holds one class only")
    cov = delong_covariance(y, np.vstack([np.ravel(p_a), np.ravel(p_b)]), groups)
    a, b = (float(t) for t in cov.aurocs)
    delta = a - b
    c = cov.covariance
    var = float(c[0, 0] + c[1, 1] - 2 * c[0, 1])
    method = "paired DeLong, clustered (Obuchowski)" if cov.clustered else "paired DeLong (Sun & Xu)"
    if math.isfinite(var) and var > 1e-14:
        se = math.sqrt(var)
        half = z_value(confidence) * se
        ci = (max(-1.0, delta - half), min(1.0, delta + half))
        from scipy.stats import norm  # imported when a comparison is computed, not when the app starts

        return PairedAuroc(a, b, delta, ci, float(2 * norm.sf(abs(delta) / se)), method)
    if abs(delta) < 1e-12:
        return PairedAuroc(a, b, 0.0, (0.0, 0.0), 1.0, f"{method}: no variance, the two rank the pairs alike")
    if abs(delta) > 1 - 1e-12:
        low = 2 * separation_bound(cov.pairs, confidence) - 1
        ci = (low, 1.0) if delta > 0 else (-1.0, -low)
        return PairedAuroc(a, b, delta, ci, min(1.0, 2 * 0.5**cov.pairs), "exact pairs bound (opposite separation)")
    return PairedAuroc(a, b, delta, (NAN, NAN), NAN, f"{method}: variance not estimable (too few patients)")


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> PairedProportion:
    """Exact McNemar test of two models' hits on the same images (the subset chosen by the caller).

    b = images only a gets right, c = only b; p = min(1, 2·P(X ≤ min(b, c))), X ~ Binomial(b + c, ½),
    the two-sided exact binomial test of b in b + c; p = 1 without discordant images.
    """
    ca = np.asarray(correct_a, dtype=bool).ravel()
    cb = np.asarray(correct_b, dtype=bool).ravel()
    if ca.shape != cb.shape:
        raise ValueError(f"paired hits need one entry per image for both models, got {len(ca)} and {len(cb)}")
    n = len(ca)
    only_a, only_b = int(np.sum(ca & ~cb)), int(np.sum(~ca & cb))
    discordant = only_a + only_b
    from scipy.stats import binom

    p = 1.0 if discordant == 0 else min(1.0, 2 * float(binom.cdf(min(only_a, only_b), discordant, 0.5)))
    share_a, share_b = (float(ca.mean()), float(cb.mean())) if n else (NAN, NAN)
    return PairedProportion(share_a, share_b, n, only_a, only_b, p, "exact McNemar")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values in the given order: the i-th smallest of m becomes
    max over j ≤ i of min(1, (m − j + 1)·p_(j)), so the adjusted values are monotone in the raw
    ones and capped at 1. NaN entries stay NaN and do not count in m."""
    p = [float(v) for v in p_values]
    finite = sorted((v, i) for i, v in enumerate(p) if not math.isnan(v))
    out = [NAN] * len(p)
    m, running = len(finite), 0.0
    for rank, (value, i) in enumerate(finite):
        running = max(running, min(1.0, (m - rank) * value))
        out[i] = running
    return out
