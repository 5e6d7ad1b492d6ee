"""What the TUI's compare screen shows of N finished models, read and computed off the UI thread.

For each model: its training history, its test ROC (from predictions.csv) and its test metrics with
their intervals (metrics.json). For each model other than the baseline: the paired tests against the
baseline on the same test images (`pairing.paired_tests`: ΔAUROC with the paired DeLong p, exact McNemar
p for sensitivity, specificity and accuracy), or why there are none. And the keys of
`configs/job_config.json` whose values differ between the models. Plain data and plain text: no UI here.
The p-values are per comparison, not adjusted for multiplicity (the report's Holm-adjusted ones are in
comparisons.csv).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medcam_core.formatting import MISSING, estimate, number
from medcam_core.outputs.comparisons import p_text
from medcam_core.outputs.job_folder import JobFolder, read_predictions
from medcam_core.outputs.pairing import PairedTests, paired_tests, read_scored_model
from medcam_core.outputs.pictures import RocCurve, roc_of
from medcam_core.outputs.results import JobResults, load_job_results

PAIRED_METRICS = ("auroc", "sensitivity", "specificity", "accuracy")  # what the paired tests cover
TABLE_METRICS = (*PAIRED_METRICS, "auprc", "brier")
LABELS = {"auroc": "AUROC", "auprc": "AUPRC", "brier": "Brier"}
CURVE_ORDER = ("loss", "accuracy", "auc")  # first in the curve list; other history metrics follow by name
NOT_CURVES = {"lr", "learning_rate"}
DIFFERENT_IMAGES = "not scored on the same test images"


@dataclass(frozen=True)
class ComparedModel:
    """One model as the compare screen draws it."""

    job: str
    results: JobResults
    roc: RocCurve | str  # the test ROC, or why there is none

    @property
    def test(self) -> dict[str, Any]:
        return dict(self.results.test)

    def value(self, metric: str) -> str:
        """`0.912 [0.850–0.960]`: the test figure with its interval where metrics.json has one."""
        test = self.test
        return estimate(test.get(metric), (test.get("ci") or {}).get(metric))


@dataclass(frozen=True)
class VersusBaseline:
    """One model against the baseline on the same test images (model − baseline), or why not."""

    job: str
    tests: PairedTests | None
    skipped: str = ""

    def delta(self, metric: str) -> tuple[float, float] | None:
        """(model − baseline, p) of a paired metric; None when it was not tested."""
        if self.tests is None:
            return None
        if metric == "auroc":
            return self.tests.auroc.delta, self.tests.auroc.p_value
        for t in self.tests.proportions:
            if t.metric == metric:
                return t.test.a - t.test.b, t.test.p_value
        return None

    def cell(self, metric: str) -> str:
        """`+0.012 · p = 0.43`; instead of a p-value, why there is none."""
        if self.skipped:
            if metric != "auroc":
                return MISSING if metric in PAIRED_METRICS else ""
            return "different test images" if self.skipped.startswith(DIFFERENT_IMAGES) else "not paired"
        found = self.delta(metric)
        if found is None:
            return MISSING if metric in PAIRED_METRICS else ""
        difference, p = found
        return f"{difference:+.3f} · {p_text(p)}".replace("-", "−")


@dataclass(frozen=True)
class ConfigDifference:
    """A job_config.json key (dotted path) whose values differ; one value per model, MISSING where absent."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ModelComparison:
    baseline: str
    models: list[ComparedModel]
    versus: dict[str, VersusBaseline] = field(default_factory=dict)
    config_diff: list[ConfigDifference] = field(default_factory=list)

    def curve_metrics(self) -> list[str]:
        """The metrics any model's history holds (train or validation), loss and accuracy first."""
        names = {key.removeprefix("val_") for m in self.models for key in m.results.history} - NOT_CURVES
        return [n for n in CURVE_ORDER if n in names] + sorted(names - set(CURVE_ORDER))

    def rows(self) -> list[tuple[str, list[str], list[str]]]:
        """The metrics table: (label, each model's value, each non-baseline model's Δ-vs-baseline cell)."""
        others = [m for m in self.models if m.job != self.baseline]
        table = []
        for metric in TABLE_METRICS:
            values = [m.value(metric) for m in self.models]
            table.append((LABELS.get(metric, metric), values, [self.versus[m.job].cell(metric) for m in others]))
        table.append(("threshold", [number(_threshold(m.results)) for m in self.models], ["" for _ in others]))
        table.append(("n test", [_counts(m.test) for m in self.models], ["" for _ in others]))
        return table

    def notes(self) -> list[str]:
        """Why a model could not be paired with the baseline, or how the pairs were tested."""
        lines = []
        for v in self.versus.values():
            if v.skipped:
                lines.append(f"{v.job} vs {self.baseline}: no paired test — {v.skipped}")
            elif v.tests is not None:
                t = v.tests
                size = f"{t.positives}+/{t.negatives}− shared test images"
                size += f" from {t.patients} patients" if t.patients else ""
                lines.append(
                    f"{v.job} vs {self.baseline}: {size}; AUROC by {t.auroc.method}, proportions by exact McNemar"
                )
        return lines


def _threshold(res: JobResults) -> float | None:
    value = (res.metrics.get("threshold") or {}).get("value")
    return float(value) if isinstance(value, (int, float)) else None


def _counts(test: dict[str, Any]) -> str:
    n = test.get("n") or {}
    return f"{n.get('positive', '?')}+/{n.get('negative', '?')}−" if n else MISSING


def _roc(res: JobResults) -> RocCurve | str:
    folder = JobFolder(res.folder)
    if not folder.predictions_file.is_file():
        return f"no {JobFolder.PREDICTIONS}"
    try:
        return roc_of(read_predictions(folder.predictions_file), _threshold(res))
    except (OSError, ValueError, KeyError) as exc:
        return f"unreadable {JobFolder.PREDICTIONS}: {exc}"


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """Nested JSON objects as dotted keys (`preset.epochs`); lists and scalars are leaves."""
    if not isinstance(config, dict):
        return {prefix: config} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in config.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def config_differences(configs: Sequence[dict[str, Any]]) -> list[ConfigDifference]:
    """The dotted keys whose values are not the same in every config (absent counts as a value)."""
    flat = [flatten(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    missing = object()
    differing = []
    for key in keys:
        values = [f.get(key, missing) for f in flat]
        if any(v != values[0] for v in values[1:]):
            shown = (MISSING if v is missing else v if isinstance(v, str) else json.dumps(v) for v in values)
            differing.append(ConfigDifference(key, tuple(shown)))
    return differing


def compare_models(folders: Sequence[tuple[str, Path]], baseline: str | None = None) -> ModelComparison:
    """Read the models (job id, folder) and test each against the baseline (default: the first)."""
    if not folders:
        raise ValueError("nothing to compare: no model given")
    ids = [job for job, _ in folders]
    base = baseline if baseline in ids else ids[0]
    models = []
    for job, folder in folders:
        res = load_job_results(folder)
        models.append(ComparedModel(job, res, _roc(res)))
    scored = {job: replace(read_scored_model(folder), job=job) for job, folder in folders}
    versus = {}
    for job in ids:
        if job != base:
            tests = paired_tests(scored[job], scored[base])
            versus[job] = VersusBaseline(job, None, tests) if isinstance(tests, str) else VersusBaseline(job, tests)
    return ModelComparison(base, models, versus, config_differences([m.results.config for m in models]))
