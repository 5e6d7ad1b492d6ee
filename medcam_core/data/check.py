"""What `medcam-tui data check` finds in one dataset, without training: counts, skips, duplicates, leaks.

It runs the same discovery, splitting, decoding and audit as a job, so what it reports is what a
job would train on. Images are decoded at a tiny size: only readability and content matter here.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from medcam_core.config import DatasetSpec
from medcam_core.data.load import check_usable, inspect_dataset, leak_message, reason_kind
from medcam_core.errors import DataError

CHECK_SIZE = 32
OK, WARNING, ERROR = "ok", "warning", "error"
EXIT = {OK: 0, WARNING: 1, ERROR: 2}
log = logging.getLogger(__name__)


@dataclass
class DatasetCheck:
    name: str
    recipe: str
    path: str
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    duplicates: int = 0
    leaks: list[str] = field(default_factory=list)
    leaks_dropped: bool = False
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.errors:
            return ERROR
        return WARNING if self.skipped or self.duplicates or self.leaks else OK

    def skipped_reasons(self) -> dict[str, int]:
        return dict(Counter(reason_kind(item["reason"]) for item in self.skipped))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "recipe": self.recipe,
            "path": self.path,
            "status": self.status,
            "splits": self.splits,
            "skipped": self.skipped,
            "skipped_reasons": self.skipped_reasons(),
            "duplicates": self.duplicates,
            "leaks": len(self.leaks),
            "leak_details": self.leaks,
            "leaks_dropped": self.leaks_dropped,
            "notes": self.notes,
            "errors": self.errors,
        }


def check_dataset(spec: DatasetSpec, seed: int) -> DatasetCheck:
    result = DatasetCheck(spec.name, spec.recipe, str(spec.path))
    try:
        data = inspect_dataset(spec, CHECK_SIZE, seed)
    except DataError as exc:
        result.errors.append(str(exc))
        return result
    except OSError as exc:  # the report says it; the traceback (raw file names in it) only at debug level
        log.debug("data check of %s", spec.name, exc_info=True)
        result.errors.append(f"cannot read the dataset: {exc}")
        return result
    patients = data.patients()
    result.splits = {name: {**counts, "patients": patients[name]} for name, counts in data.counts().items()}
    result.skipped = [{"path": path, "reason": reason} for path, reason in data.skipped]
    result.duplicates = data.duplicates
    result.leaks = data.leaks
    result.leaks_dropped = bool(data.leaks) and spec.leaks == "drop"
    result.notes = data.notes
    if data.leaks and spec.leaks == "error":
        result.errors.append(leak_message(spec, data.leaks))
    try:
        check_usable(spec, data.splits)
    except DataError as exc:
        result.errors.append(str(exc))
    return result
