"""Analytic confidence intervals that stay honest at the edges: proportions and the AUROC.

A percentile bootstrap of 29 hits in 29 images is [1, 1]; 29 images support about [0.88, 1].

- **Proportions** (sensitivity, specificity, accuracy, precision): the Wilson score interval
  (Wilson 1927, JASA 22:209–212; recommended by Newcombe 1998, Stat Med 17:857–872, and Brown, Cai
  & DasGupta 2001, Statist Sci 16:101–133). When patients contribute several images the images are
  not independent: the interval is computed at an effective sample size n / deff (see
  `design_effect`), never narrower than the plain Wilson interval of the images.
- **AUROC**: DeLong, DeLong & Clarke-Pearson (1988, Biometrics 44:837–845) variance through the
  midrank algorithm of Sun & Xu (2014, IEEE Signal Process Lett 21:1389–1393); with patients that
  contribute several images, the clustered variance of Obuchowski (1997, Biometrics 53:567–578).
  The interval is built on the logit scale and transformed back, so it stays inside (0, 1)
  (the logit interval studied by Qin & Hotilovac 2008, Stat Methods Med Res 17:207–221).
  Perfect separation (AUROC exactly 1 or 0) has DeLong variance 0: see `separation_bound`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A figure with its interval, the interval's method in a few words, and a note ("" when none)."""

    value: float | None
    interval: tuple[float, float] | None
    method: str
    note: str = ""


def z_value(confidence: float) -> float:
    """The two-sided normal quantile, e.g. 1.96 for 0.95."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    from scipy.stats import norm  # scipy.stats costs ~0.8 s to import: only when a figure is computed

    return float(norm.ppf(0.5 + confidence / 2))


def _wilson(successes: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score interval; `successes` and `n` may be fractional (effective counts)."""
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


def _check_counts(successes: int, n: int) -> None:
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"expected 0 <= successes <= n, got {successes} of {n}")


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of `successes` in `n`; None when n == 0. 0/n starts at 0, n/n ends at 1."""
    _check_counts(successes, n)
    return _wilson(successes, n, z_value(confidence)) if n else None


def clopper_pearson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Exact (Clopper & Pearson 1934, Biometrika 26:404–413) interval from beta quantiles; None when n == 0."""
    _check_counts(successes, n)
    if n == 0:
        return None
    alpha = 1 - confidence
    from scipy.stats import beta

    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, n - successes + 1))
    high = 1.0 if successes == n else float(beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return low, high


def bootstrap_resamples(groups: Sequence[str] | None, size: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Each seeded bootstrap resample's image indices: patients drawn with replacement (images when
    `groups` is None), every image of a drawn patient taken. metrics.json's percentile intervals and
    the ROC picture's band both draw here, so they rest on the same resamples."""
    keys = np.asarray(groups if groups is not None else np.arange(size).astype(str))
    uniq, inverse = np.unique(keys, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(uniq))]
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield np.concatenate([members[g] for g in rng.integers(0, len(uniq), len(uniq))])


def _cluster_index(groups: Sequence[str] | np.ndarray | None, size: int) -> np.ndarray:
    """Each image's patient as an integer 0..K-1 (every image its own patient when `groups` is None)."""
    if groups is None:
        return np.arange(size)
    keys = np.asarray(groups)
    if len(keys) != size:
        raise ValueError(f"groups has {len(keys)} entries for {size} images")
    return np.unique(keys, return_inverse=True)[1].ravel()


def design_effect(hits: np.ndarray, groups: Sequence[str] | None) -> tuple[float, str]:
    """The design effect of a proportion over images clustered in patients, and a note ("" when none).

    With K patients, patient i holding m_i images of which k_i are hits, n = Σ m_i and p = Σ k_i / n,
    the variance of p as a ratio estimator over patients (Rao & Scott 1992, "A simple method for
    the analysis of clustered binary data", Biometrics 48:577–585) is

        v = K / (K − 1) · Σ (k_i − p·m_i)² / n²,

    and the design effect (Kish 1965, Survey Sampling) is deff = v / (p(1 − p) / n). The interval is
    then the binomial interval at the effective size n / deff with p unchanged (Korn & Graubard
    1998, Survey Methodology 24:193–201, do the same for Clopper–Pearson; here Wilson).

    deff is clipped to [1, Σ m_i² / n]: 1 keeps the interval never narrower than the plain Wilson
    interval of the images; Σ m_i² / n is the design effect when images of a patient always agree
    (intra-cluster correlation 1), i.e. an effective size of (Σ m_i)² / Σ m_i² patients (K when
    every patient has as many images). When p is 0 or 1, or K < 2, v carries no information about
    the correlation; the worst case, Σ m_i² / n, is used and the note says so (so all hits may get a
    lower bound below that of one miss fewer, whose deff is estimated: the choice errs wide at the
    edge, where a percentile bootstrap collapses to a point). When no patient has
    more than one image the design is a simple random sample of images and deff is 1.
    """
    y = np.asarray(hits, dtype=bool).ravel()
    index = _cluster_index(groups, len(y))
    m = np.bincount(index).astype(float)
    if len(m) == 0 or m.max() <= 1:
        return 1.0, ""
    k = np.bincount(index, weights=y.astype(float))
    n, patients = float(m.sum()), len(m)
    p = float(k.sum()) / n
    worst = float((m**2).sum()) / n
    if p in (0.0, 1.0) or patients < 2:
        how = "every image a hit" if p == 1.0 else "no image a hit" if p == 0.0 else "one patient"
        return worst, (
            f"{how}, so the within-patient correlation cannot be estimated; worst case used "
            f"(design effect {worst:.2f}: {n / worst:.1f} effective of {int(n)} images, {patients} patients)"
        )
    v = patients / (patients - 1) * float(((k - p * m) ** 2).sum()) / n**2
    return min(max(1.0, v / (p * (1 - p) / n)), worst), ""


def proportion_estimate(hits: np.ndarray, groups: Sequence[str] | None = None, confidence: float = 0.95) -> Estimate:
    """The share of hits with its Wilson interval, cluster-corrected when patients repeat."""
    y = np.asarray(hits, dtype=bool).ravel()
    n, k = len(y), int(y.sum())
    if n == 0:
        return Estimate(None, None, "Wilson", "no images")
    deff, note = design_effect(y, groups)
    repeated = bool(np.bincount(_cluster_index(groups, n)).max() > 1)
    method = "Wilson, cluster-corrected" if repeated else "Wilson"
    if deff == 1.0:
        return Estimate(k / n, wilson(k, n, confidence), method, note)
    n_eff = n / deff
    return Estimate(k / n, _wilson(k / n * n_eff, n_eff, z_value(confidence)), method, note)


def proportion_interval(
    hits: np.ndarray, groups: Sequence[str] | None = None, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Wilson interval of the share of True in `hits` (one bool per image); None when empty.

    With `groups` (each image's patient) and a patient holding several images, the Wilson interval
    at the effective size n / deff (`design_effect`: Rao & Scott 1992 ratio-estimator variance,
    deff clipped to [1, Σ m_i² / n]); never narrower than the plain Wilson interval of the images.
    """
    return proportion_estimate(hits, groups, confidence).interval


@dataclass(frozen=True)
class AurocCovariance:
    """AUROCs of k score sets on the same images and their DeLong covariance (NaN when inestimable)."""

    aurocs: np.ndarray  # (k,)
    covariance: np.ndarray  # (k, k)
    clustered: bool  # some patient holds more than one image
    pairs: int  # independent positive–negative pairs available (`separation_bound`)


def independent_pairs(y: np.ndarray, groups: Sequence[str] | None) -> int:
    """How many positive–negative pairs the sample holds with every image from a different patient.

    P patients with only positives, Q with only negatives, B with both: min(P + B, Q + B,
    ⌊(P + Q + B) / 2⌋). Without patients (every image its own) that is min(positives, negatives).
    """
    y = np.asarray(y).astype(int).ravel()
    index = _cluster_index(groups, len(y))
    has_pos = np.bincount(index, weights=(y == 1).astype(float)) > 0
    has_neg = np.bincount(index, weights=(y == 0).astype(float)) > 0
    both = int(np.sum(has_pos & has_neg))
    only_pos, only_neg = int(np.sum(has_pos)) - both, int(np.sum(has_neg)) - both
    return min(only_pos + both, only_neg + both, (only_pos + only_neg + both) // 2)


def delong_covariance(y: np.ndarray, scores: np.ndarray, groups: Sequence[str] | None = None) -> AurocCovariance:
    """DeLong covariance of the AUROCs of each row of `scores` (k × images), images paired.

    Structural components by midranks (Sun & Xu 2014): with Tz the midrank of a score among all
    images, Tx among positives and Ty among negatives, V10(x_i) = (Tz_i − Tx_i) / N for each of
    the M positives and V01(y_j) = 1 − (Tz_j − Ty_j) / M for each of the N negatives; the AUROC is
    the mean of V10. Unclustered (DeLong 1988): S10, S01 the sample covariances (ddof 1) of the
    components and Cov = S10 / M + S01 / N. Clustered (Obuchowski 1997, eqs. for I clusters, I10 of
    them with positives, I01 with negatives): with V10_i, V01_i the sums of the components in
    cluster i and m_i, n_i its positives and negatives,
        S10 = I10 / ((I10 − 1) M) Σ (V10_i − m_i θ)(V10_i − m_i θ)ᵀ,
        S01 = I01 / ((I01 − 1) N) Σ (V01_i − n_i θ)(V01_i − n_i θ)ᵀ,
        S11 = I / (I − 1) Σ (V10_i − m_i θ)(V01_i − n_i θ)ᵀ,
        Cov = S10 / M + S01 / N + (S11 + S11ᵀ) / (M N),
    which equals DeLong's when every patient holds one image. NaN where a class has fewer than
    two (clustered: fewer than two patients with it).
    """
    y = np.asarray(y).astype(int).ravel()
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    pos, neg = y == 1, y == 0
    m, n = int(pos.sum()), int(neg.sum())
    if m == 0 or n == 0 or s.shape[1] != len(y):
        raise ValueError("the AUROC needs positives and negatives, one score per image")
    from scipy.stats import rankdata

    tz = np.vstack([rankdata(row) for row in s])
    v10 = (tz[:, pos] - np.vstack([rankdata(row[pos]) for row in s])) / n
    v01 = 1 - (tz[:, neg] - np.vstack([rankdata(row[neg]) for row in s])) / m
    theta = v10.mean(axis=1)
    k = len(s)
    index = _cluster_index(groups, len(y))
    clustered = bool(np.bincount(index).max() > 1)
    nan = np.full((k, k), np.nan)
    if not clustered:
        s10 = np.cov(v10, ddof=1).reshape(k, k) if m > 1 else nan
        s01 = np.cov(v01, ddof=1).reshape(k, k) if n > 1 else nan
        cov = s10 / m + s01 / n
    else:
        clusters = int(index.max()) + 1
        mi = np.bincount(index[pos], minlength=clusters).astype(float)
        ni = np.bincount(index[neg], minlength=clusters).astype(float)
        z10 = np.vstack([np.bincount(index[pos], weights=r, minlength=clusters) for r in v10]) - np.outer(theta, mi)
        z01 = np.vstack([np.bincount(index[neg], weights=r, minlength=clusters) for r in v01]) - np.outer(theta, ni)
        i10, i01 = int(np.sum(mi > 0)), int(np.sum(ni > 0))
        if i10 < 2 or i01 < 2:
            cov = nan
        else:
            s10 = i10 / ((i10 - 1) * m) * (z10 @ z10.T)
            s01 = i01 / ((i01 - 1) * n) * (z01 @ z01.T)
            s11 = clusters / (clusters - 1) * (z10 @ z01.T)
            cov = s10 / m + s01 / n + (s11 + s11.T) / (m * n)
    return AurocCovariance(theta, cov, clustered, independent_pairs(y, groups))


def separation_bound(pairs: int, confidence: float = 0.95) -> float:
    """The lowest AUROC a perfectly separated sample of `pairs` independent pairs supports: (α/2)^(1/pairs).

    Take `pairs` positive–negative pairs with all images from different patients
    (`independent_pairs`). Each pair is ordered correctly independently with probability at most
    θ (the AUROC; ties count half), and perfect separation of the whole sample implies every pair
    is, so P(perfect separation) ≤ θ^pairs. Inverting that test at α/2 gives θ ≥ (α/2)^(1/pairs):
    the Clopper–Pearson (1934) lower bound of pairs/pairs successes — exact and conservative,
    e.g. 0.881 for 29 pairs at 95 %. The upper end is 1. (For an AUROC of 0, mirror it.) Without
    any independent pair (one patient holds every image) the bound is 0: nothing is supported.
    """
    return float(((1 - confidence) / 2) ** (1 / pairs)) if pairs > 0 else 0.0


def _logit_interval(theta: float, var: float, z: float) -> tuple[float, float]:
    centre = math.log(theta / (1 - theta))
    half = z * math.sqrt(var) / (theta * (1 - theta))
    return 1 / (1 + math.exp(-(centre - half))), 1 / (1 + math.exp(-(centre + half)))


def auroc_estimate(
    y: np.ndarray, p: np.ndarray, confidence: float = 0.95, groups: Sequence[str] | None = None
) -> Estimate:
    """AUROC with its DeLong interval (logit scale), method and note; value None with one class only."""
    y = np.asarray(y).astype(int).ravel()
    p = np.asarray(p, dtype=float).ravel()
    pos, neg = y == 1, y == 0
    if not pos.any() or not neg.any():
        only = "negatives" if neg.any() else "positives" if pos.any() else "no images"
        return Estimate(None, None, "DeLong", f"AUROC undefined: the test split holds {only} only")
    cov = delong_covariance(y, p, groups)
    theta, pairs = float(cov.aurocs[0]), cov.pairs
    method = "DeLong clustered (Obuchowski)" if cov.clustered else "DeLong (Sun & Xu)"
    unit = "patient-disjoint pairs" if cov.clustered else "pairs (the smaller class)"
    perfect, reversed_ = p[pos].min() > p[neg].max(), p[pos].max() < p[neg].min()
    if perfect or reversed_:
        bound = separation_bound(pairs, confidence)
        interval = (bound, 1.0) if perfect else (0.0, 1 - bound)
        note = (
            f"perfect separation (AUROC {'1' if perfect else '0'}): DeLong variance is 0, so the interval is the "
            f"exact Clopper–Pearson bound of {pairs} independent {unit} all ordered alike"
        )
        return Estimate(1.0 if perfect else 0.0, interval, "exact pairs bound (Clopper–Pearson)", note)
    var = float(cov.covariance[0, 0])
    note = ""
    if not math.isfinite(var) or var <= 0:
        # Birnbaum & Klose (1957, Ann Math Statist 28:933–945): Var(AUROC) ≤ θ(1 − θ) / min(M, N).
        var = theta * (1 - theta) / max(pairs, 1)
        method = "DeLong, maximum-variance bound"
        note = (
            "DeLong variance not estimable (too few patients of a class, or all scores tied); "
            f"the Birnbaum–Klose maximum θ(1−θ)/{max(pairs, 1)} is used"
        )
    return Estimate(theta, _logit_interval(theta, var, z_value(confidence)), method, note)


def delong_auroc(
    y: np.ndarray, p: np.ndarray, confidence: float = 0.95, groups: Sequence[str] | None = None
) -> tuple[float | None, tuple[float, float] | None, str]:
    """AUROC, its interval and a note ("" when nothing is unusual); (None, None, why) with one class.

    DeLong variance by the Sun & Xu (2014) midrank algorithm; with `groups` (each image's patient)
    and a patient holding several images, Obuchowski's (1997) clustered variance. The interval is
    logit(θ) ± z·SE/(θ(1−θ)) transformed back, so it stays in (0, 1). At AUROC exactly 1 (or 0)
    the variance is 0 and the interval is [(α/2)^(1/k), 1] (or its mirror), k the independent
    positive–negative pairs (`separation_bound`: exact Clopper–Pearson of k/k); the note says so.
    Never a zero-width interval.
    """
    est = auroc_estimate(y, p, confidence, groups)
    return est.value, est.interval, est.note
