"""Read a finished job's folder back: the one loader the browser and the report share."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL_FILE = "models/model.keras"  # a job counts as finished only while its folder holds this
METRICS_FILE = "results/metrics.json"


@dataclass
class JobResults:
    folder: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[float | None]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def test(self) -> dict[str, Any]:
        return self.metrics.get("test", {})

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


def load_job_results(folder: Path) -> JobResults:
    """Whatever of metrics, history and config can be read; what cannot is listed in `problems`."""
    folder = Path(folder)
    problems: list[str] = []
    return JobResults(
        folder=folder,
        metrics=_read(folder / METRICS_FILE, problems),
        history=_read(folder / "results" / "history.json", problems),
        config=_read(folder / "configs" / "job_config.json", problems),
        problems=problems,
    )


def summarize(metrics: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a queue table shows; the rest stays in metrics.json."""
    test = metrics["test"]
    keys = ("accuracy", "precision", "recall", "specificity", "auroc")
    out: dict[str, Any] = {k: test.get(k) for k in keys}
    out["auroc_ci"] = test.get("ci", {}).get("auroc")
    out["threshold"] = metrics["threshold"]["value"]
    out["best_epoch"] = metrics["training"]["best_epoch"]
    return out
