"""Which test images a job shows as its Grad-CAM examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medcam_core.explain.maps import Item


def pick_examples(rows: list[dict[str, Any]], threshold: float, per_outcome: int = 2) -> list[Item]:
    """A few true/false positives/negatives at the threshold from prediction rows (path, label, probability)."""
    picked: dict[tuple[int, bool], list[Item]] = {}
    for row in rows:
        label = int(row["label"])
        key = (label, float(row["probability"]) >= threshold)
        if len(picked.setdefault(key, [])) < per_outcome:
            picked[key].append(Item(Path(row["path"]), label))
    return [item for items in picked.values() for item in items]
