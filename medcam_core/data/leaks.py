"""Duplicates and leaks: the same patient or the same file on both sides of a split inflates test scores.

A duplicate inside one split is dropped (one copy kept); copies that disagree on the label are all
dropped, since neither label can be trusted. A leak across splits is refused unless the dataset says
`leaks = "drop"`; then the copy in the less protected split goes (test > val > train), so an
official test split is never changed by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medcam_core.data.discovery import Sample

PROTECTION = {"test": 2, "val": 1, "train": 0}


@dataclass
class Audit:
    keep: list[int]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    leaks: list[str] = field(default_factory=list)


def audit(samples: Sequence[Sample], hashes: Sequence[str], drop_leaks: bool, root: Path) -> Audit:
    """Indices to keep; `leaks` lists what crosses a split (dropped too when `drop_leaks`)."""

    def show(i: int) -> str:
        path = samples[i].path
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    result = Audit([])
    dropped: set[int] = set()
    by_hash: dict[str, list[int]] = {}
    for i, digest in enumerate(hashes):
        by_hash.setdefault(digest, []).append(i)
    for group in by_hash.values():
        if len(group) == 1:
            continue
        result.duplicates += len(group) - 1
        splits = {samples[i].split for i in group}
        keeper = max(group, key=lambda i: (PROTECTION[samples[i].split], -i))
        conflict = " (with different labels)" if len({samples[i].label for i in group}) > 1 else ""
        if len(splits) > 1:
            copies = ", ".join(f"{show(i)} ({samples[i].split})" for i in group)
            result.leaks.append(f"same file content{conflict}: {copies}")
            if not drop_leaks:
                continue
        for i in group:
            if conflict:
                other = show(keeper if i != keeper else next(j for j in group if j != i))
                result.skipped.append((str(samples[i].path), f"conflicting labels: same content as {other}"))
                dropped.add(i)
            elif i != keeper:
                dropped.add(i)
                same_split = samples[i].split == samples[keeper].split
                reason = "duplicate" if same_split else f"leak: same content is in {samples[keeper].split}"
                result.skipped.append((str(samples[i].path), f"{reason}: {show(keeper)}"))
    by_patient: dict[str, list[int]] = {}
    for i, sample in enumerate(samples):
        if i not in dropped:
            by_patient.setdefault(sample.patient, []).append(i)
    for patient, members in by_patient.items():
        splits = {samples[i].split for i in members}
        if len(splits) < 2:
            continue
        top = max(splits, key=PROTECTION.__getitem__)
        result.leaks.append(f"patient {patient} in {' and '.join(sorted(splits, key=PROTECTION.__getitem__))}")
        if drop_leaks:
            for i in members:
                if samples[i].split != top:
                    dropped.add(i)
                    result.skipped.append((str(samples[i].path), f"leak: patient {patient} is also in {top}"))
    result.keep = [i for i in range(len(samples)) if i not in dropped]
    return result
