"""Patient-grouped, label-stratified splits: no patient ever lands on two sides."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "val", "test")


def grouped_stratified_split(
    labels: Sequence[int],
    groups: Sequence[str],
    fractions: Sequence[float],
    seed: int,
    names: Sequence[str] = SPLITS,
) -> np.ndarray:
    """Assign each sample a split name; whole groups move together, strata by the group's label.

    A group is positive when any of its images is, so a patient's mixed studies stay together.
    Each stratum is shuffled with `seed` and cut by `fractions` with every split given at least one
    group when the stratum has enough.
    """
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    uniq, inverse = np.unique(groups, return_inverse=True)
    group_label = np.zeros(len(uniq), dtype=int)
    np.maximum.at(group_label, inverse, labels.astype(int))
    rng = np.random.default_rng(seed)
    group_split = np.empty(len(uniq), dtype=object)
    for value in (0, 1):
        members = np.flatnonzero(group_label == value)
        rng.shuffle(members)
        counts = _cut(len(members), fractions)
        start = 0
        for name, count in zip(names, counts, strict=True):
            group_split[members[start : start + count]] = name
            start += count
    return group_split[inverse].astype(str)


def _cut(n: int, fractions: Sequence[float]) -> list[int]:
    """Largest-remainder rounding of n by fractions, each part ≥ 1 when n allows."""
    raw = np.asarray(fractions, dtype=float) * n / float(sum(fractions))
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts))[: n - counts.sum()]:
        counts[i] += 1
    for i in range(len(counts)):
        if counts[i] == 0 and n >= len(counts):
            donor = int(np.argmax(counts))
            counts[donor] -= 1
            counts[i] += 1
    return counts.tolist()
