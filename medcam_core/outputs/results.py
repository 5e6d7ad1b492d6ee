"""Read a finished job's folder back: the one loader the browser and the report share."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from medcam_core.outputs.job_folder import JobFolder
from medcam_core.outputs.metrics_schema import JobSummary, Metrics, TestMetrics

# Paths relative to a job folder, for callers written before `JobFolder`: use JobFolder.MODEL / .METRICS.


@dataclass
class JobResults:
    folder: Path
    metrics: Metrics = field(default_factory=lambda: cast(Metrics, {}))
    history: dict[str, list[float | None]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def imported(self) -> dict[str, Any] | None:
        """Where an imported model came from (source, sha256, preprocessing), None for a job of this tool."""
        return self.config.get("import")

    @property
    def test(self) -> TestMetrics:
        return self.metrics.get("test", cast(TestMetrics, {}))

    def artifacts(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file())


def _read(path: Path, problems: list[str]) -> dict[str, Any]:
    """A JSON object, or {} with the reason in `problems`: readers index it without checking."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"missing {path.name}")
    except (OSError, ValueError) as exc:
        problems.append(f"unreadable {path.name}: {exc}")
    else:
        if isinstance(data, dict):
            return data
        problems.append(f"unreadable {path.name}: not a JSON object")
    return {}


def read_metrics(folder: JobFolder) -> Metrics:
    """A job's metrics.json as written; OSError or ValueError when it cannot be read or is no object.

    Typed as the schema says, but an older or damaged file may lack keys: show what is there with `.get`.
    """
    data = json.loads(folder.metrics_file.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{folder.metrics_file.name} is not a JSON object")
    return cast(Metrics, data)


def load_job_results(folder: Path | JobFolder) -> JobResults:
    """Whatever of metrics, history and config can be read; what cannot is listed in `problems`.
    An imported model (`evaluate` on a model file) has only its import record as config."""
    job = folder if isinstance(folder, JobFolder) else JobFolder(Path(folder))
    problems: list[str] = []
    if job.import_file.is_file():
        return JobResults(folder=job.root, config={"import": _read(job.import_file, problems)}, problems=problems)
    return JobResults(
        folder=job.root,
        metrics=cast(Metrics, _read(job.metrics_file, problems)),
        history=_read(job.history_file, problems),
        config=_read(job.config_file, problems),
        problems=problems,
    )


def summarize(metrics: Metrics) -> JobSummary:
    """The few numbers a queue table shows; the rest stays in metrics.json."""
    test = metrics["test"]
    return {
        "accuracy": test.get("accuracy"),
        "precision": test.get("precision"),
        "recall": test.get("recall"),
        "specificity": test.get("specificity"),
        "auroc": test.get("auroc"),
        "auroc_ci": test.get("ci", cast(Any, {})).get("auroc"),
        "threshold": metrics["threshold"]["value"],
        "best_epoch": metrics["training"]["best_epoch"],
    }
