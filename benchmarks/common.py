"""Shared helpers: medians, a result record, a stopwatch for subprocesses."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    """One benchmark's outcome: `ratio` compared against `goal` in the direction `better`."""

    name: str
    ratio: float
    goal: float
    better: str  # "higher" or "lower"
    unit: str = "×"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def meets(self) -> bool:
        return self.ratio >= self.goal if self.better == "higher" else self.ratio <= self.goal

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body.pop("name")
        body["meets_goal"] = self.meets
        return body

    def line(self) -> str:
        sign = "≥" if self.better == "higher" else "≤"
        verdict = "meets" if self.meets else "MISSES"
        extras = ", ".join(f"{k} {v}" for k, v in self.details.items() if not isinstance(v, (list, dict)))
        return f"{self.name:<28} ratio {self.ratio:8.3f}{self.unit}  goal {sign} {self.goal:g}  {verdict}  ({extras})"


class StageClock:
    """An event sink that sums each stage's wall time over every job (from the stage_started events)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._marks: dict[str, tuple[str, float]] = {}

    def __call__(self, event: Any) -> None:
        if event.kind == "stage_started":
            self._close(event.job_id, event.time)
            self._marks[event.job_id] = (str(event.stage), event.time)
        elif event.kind in ("job_finished", "job_failed"):
            self._close(event.job_id, event.time)

    def _close(self, job_id: str, now: float) -> None:
        if job_id in self._marks:
            stage, since = self._marks.pop(job_id)
            self.seconds[stage] = self.seconds.get(stage, 0.0) + now - since

    def details(self) -> dict[str, float]:
        return {f"stage_{k}_s": round(v, 1) for k, v in sorted(self.seconds.items())}


@dataclass
class JobRun:
    """One benchmark job through the real runner: wall time, median epoch, stage sums, its folder."""

    seconds: float
    epoch_s: float
    stages: dict[str, float]
    folder: Any  # medcam_core.outputs.job_folder.JobFolder


def one_job(per_class: int, **preset_changes: Any) -> JobRun:
    """The demo's first dataset at 224 px, trained once with the demo's standard preset changed by
    `preset_changes` (epochs also set patience: no early stop, so compared jobs train alike)."""
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    from medcam_core.config import EvaluationSpec, QueueConfig
    from medcam_core.data.demo import demo_config
    from medcam_core.jobqueue.runner import Runner
    from medcam_core.outputs.job_folder import JobFolder

    out = Path(tempfile.mkdtemp(prefix="medcam-bench-"))
    demo = demo_config(out, per_class=per_class, image_size=224)
    epochs = preset_changes.get("epochs", demo.presets["standard"].epochs)
    preset = replace(demo.presets["standard"], image_size=224, patience=epochs, **preset_changes)
    dataset = demo.datasets[0]
    config = QueueConfig(
        datasets=(dataset,),
        presets={"standard": preset},
        order=("standard",),
        output=out,
        evaluation=EvaluationSpec(bootstrap=200),
    )
    epoch_seconds: list[float] = []
    clock = StageClock()
    runner = Runner(config, [clock, lambda e: epoch_seconds.append(e.seconds) if e.kind == "epoch_ended" else None])
    start = time.perf_counter()
    counts = runner.run()
    seconds = time.perf_counter() - start
    if counts.get("done") != 1:
        raise RuntimeError(f"the benchmark job did not finish: {counts}")
    folder = JobFolder.committed(out, f"densenet121_{dataset.name}_standard_models")
    return JobRun(seconds, median(epoch_seconds[1:] or epoch_seconds), clock.seconds, folder)


def stage_details(**by_run: dict[str, float]) -> dict[str, float]:
    """{run}_{stage}_s for each run's stage seconds, side by side in one details dict."""
    return {f"{run}_{k}_s": round(v, 1) for run, stages in by_run.items() for k, v in stages.items()}


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def time_python(code: str, repeats: int) -> list[float]:
    """Wall time of `python -c code` in fresh interpreters."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times
