"""One job's state as its stages fill it in; each stage reads what the earlier ones left."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medcam_core.config import Job
from medcam_core.data.load import LoadedDataset
from medcam_core.events import StageProgress
from medcam_core.job.environment import JobEnvironment
from medcam_core.outputs.job_folder import JobFolder
from medcam_core.outputs.metrics_schema import Evaluation, GradcamSummary, Metrics, TrainingSummary


class JobStop(Exception):
    """Raised between stages (or batches) when the control asked this job to stop."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class JobContext:
    job: Job
    env: JobEnvironment
    started: float = field(default_factory=time.perf_counter)
    scope: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)  # left before the session clears
    data: LoadedDataset | None = None
    built: Any = None  # train.model.BuiltModel
    split: Any = None  # train.model.FrozenSplit, None when training on images
    features: Any = None  # train.fit.Features of the frozen part, when split
    work: JobFolder | None = None  # the job's folder under .partial/ while it is built
    fitted: Any = None  # train.fit.FitResult of the model kept
    repeats: list[Any] = field(default_factory=list)  # job.repeats.Repeat, one per seed
    repeat_summary: dict[str, Any] | None = None  # metrics.json's `repeats`, when there were several
    evaluation: Evaluation | None = None
    training: TrainingSummary | None = None
    gradcam: GradcamSummary | None = None
    metrics: Metrics | None = None  # the whole metrics.json, once saved
    predictions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def check_stop(self) -> None:
        request = self.env.control.stop_requested(self.job.id)
        if request:
            raise JobStop(*request)

    def progress(self, stage: str) -> Callable[[int, int], None]:
        """A throttled reporter of `done of total` for a long stage."""
        last = [0.0]

        def report(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= self.env.throttle_s or done == total:
                last[0] = now
                self.env.emit(StageProgress(self.job.id, stage, done, total))

        return report
