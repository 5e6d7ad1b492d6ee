"""Two finished models on the same test images: the paired tests, read from their job folders.

Shared by the status report's preset comparisons (`comparisons.py`) and the TUI's compare screen
(`model_comparison.py`), so both pair images, refuse mismatched splits and test alike:

- AUROC: the paired DeLong test (`evaluate.compare.paired_delong`; clustered by patient when both
  jobs' intervals resampled patients), ΔAUROC (a − b) with its interval and p;
- sensitivity (test positives), specificity (test negatives) and accuracy (all test images), each model
  at its own validation-chosen threshold: the exact McNemar test (`evaluate.compare.mcnemar_exact`), the
  images taken as independent pairs; each share with its Wilson interval.

Two models are paired only when their `predictions.csv` list the same test paths with the same labels;
otherwise `paired_tests` returns the reason, never a p-value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medcam_core.evaluate.compare import PairedAuroc, PairedProportion, mcnemar_exact, paired_delong
from medcam_core.evaluate.intervals import wilson
from medcam_core.outputs.job_folder import JobFolder, job_id_of, read_predictions
from medcam_core.outputs.results import read_metrics

PROPORTIONS = (  # metric, the test images it is counted on
    ("sensitivity", "test positives"),
    ("specificity", "test negatives"),
    ("accuracy", "test images"),
)


@dataclass(frozen=True)
class ProportionTest:
    """One share of both models on the same images: Wilson intervals, exact McNemar p, its Holm p."""

    metric: str
    images: str  # which test images it is counted on
    test: PairedProportion
    ci_a: tuple[float, float] | None
    ci_b: tuple[float, float] | None
    p_holm: float = math.nan


@dataclass(frozen=True)
class ScoredModel:
    """A finished job as the paired tests see it: its id, folder and metrics (or why they are unreadable)."""

    job: str
    folder: JobFolder
    metrics: dict[str, Any]
    problem: str = ""
    dataset: str = ""
    preset: str = ""


@dataclass(frozen=True)
class PairedTests:
    """Model a against model b on their shared test images (a − b throughout)."""

    positives: int
    negatives: int
    patients: int | None  # when the DeLong test was clustered by patient
    confidence: float
    threshold_a: float
    threshold_b: float
    auroc: PairedAuroc
    proportions: list[ProportionTest] = field(default_factory=list)


def read_scored_model(path: Path) -> ScoredModel:
    """A job folder's metrics.json and names; an unreadable metrics.json is kept as the `problem`."""
    folder = JobFolder(Path(path))
    job_id = job_id_of(folder.root.name)
    try:
        metrics: dict[str, Any] = dict(read_metrics(folder))
        problem = ""
    except (OSError, ValueError) as exc:
        metrics, problem = {}, f"unreadable {folder.METRICS}: {exc}"
    try:
        config = json.loads(folder.config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    dataset = (config.get("dataset") or {}).get("name") if isinstance(config, dict) else None
    if not isinstance(dataset, str):
        dataset = metrics.get("dataset") if isinstance(metrics.get("dataset"), str) else job_id.rpartition("_")[0]
    preset = metrics.get("preset") if isinstance(metrics.get("preset"), str) else job_id.rpartition("_")[2]
    return ScoredModel(str(metrics.get("job") or job_id), folder, metrics, problem, dataset, preset)


def _test_split(job: ScoredModel) -> dict[str, tuple[int, float, str]] | str:
    """path → (label, probability, patient) of the test rows, or why they cannot be used."""
    if job.problem:
        return job.problem
    try:
        rows = [r for r in read_predictions(job.folder.predictions_file) if r["split"] == "test"]
    except FileNotFoundError:
        return f"{job.job} has no {JobFolder.PREDICTIONS}"
    except (OSError, ValueError, KeyError) as exc:
        return f"unreadable {JobFolder.PREDICTIONS} of {job.job}: {exc}"
    by_path = {r["path"]: (int(r["label"]), float(r["probability"]), str(r["patient"])) for r in rows}
    if len(by_path) != len(rows):
        return f"{job.job}'s test split lists an image twice"
    if not rows:
        return f"{job.job} has no test predictions"
    return by_path


def _mismatch(a: dict[str, tuple[int, float, str]], b: dict[str, tuple[int, float, str]]) -> str:
    only_a, only_b = set(a) - set(b), set(b) - set(a)
    if only_a or only_b:
        return (
            f"not scored on the same test images ({len(only_a)} only in the first, {len(only_b)} only in "
            f"the second, {len(set(a) & set(b))} shared)"
        )
    relabelled = sum(a[p][0] != b[p][0] for p in a)
    return f"the same test images carry different labels ({relabelled} images)" if relabelled else ""


def paired_tests(a: ScoredModel, b: ScoredModel) -> PairedTests | str:
    """The paired tests of two models on the same test images, or why they cannot be paired."""
    split_a, split_b = _test_split(a), _test_split(b)
    for split in (split_a, split_b):
        if isinstance(split, str):
            return split
    assert isinstance(split_a, dict) and isinstance(split_b, dict)
    why = _mismatch(split_a, split_b)
    t_a, t_b = ((j.metrics.get("threshold") or {}).get("value") for j in (a, b))
    if not why and (t_a is None or t_b is None):
        why = "a threshold is missing from metrics.json"
    if why:
        return why
    paths = sorted(split_a)
    y = np.array([split_a[p][0] for p in paths])
    p_a = np.array([split_a[p][1] for p in paths])
    p_b = np.array([split_b[p][1] for p in paths])
    by_patient = all(j.metrics.get("bootstrap", {}).get("unit") == "patient" for j in (a, b))
    groups = [split_a[p][2] for p in paths] if by_patient else None
    confidence = float(a.metrics.get("ci_level") or 0.95)
    hits_a, hits_b = (p_a >= t_a) == (y == 1), (p_b >= t_b) == (y == 1)
    proportions = []
    for (metric, images), chosen in zip(PROPORTIONS, (y == 1, y == 0, np.ones_like(y, dtype=bool)), strict=True):
        if not chosen.any():  # a one-class test split has no sensitivity or no specificity
            continue
        test = mcnemar_exact(hits_a[chosen], hits_b[chosen])
        ci_a = wilson(int(hits_a[chosen].sum()), test.n, confidence)
        proportions.append(
            ProportionTest(metric, images, test, ci_a, wilson(int(hits_b[chosen].sum()), test.n, confidence))
        )
    return PairedTests(
        positives=int((y == 1).sum()),
        negatives=int((y == 0).sum()),
        patients=len(set(groups)) if groups is not None else None,
        confidence=confidence,
        threshold_a=float(t_a),
        threshold_b=float(t_b),
        auroc=paired_delong(y, p_a, p_b, confidence, groups),
        proportions=proportions,
    )
