"""A fixed queue history on disk (events with fixed times, one finished job's results) for snapshots.

Attaching to it renders the same screen on every run: nothing depends on the clock or on training.
"""

from __future__ import annotations

import math
from pathlib import Path

from medcam_core.events import (
    BatchProgress,
    DatasetLoaded,
    EpochEnded,
    EpochStarted,
    JobFailed,
    JobFinished,
    JobStarted,
    ModelBuilt,
    QueueStarted,
    StageStarted,
)
from medcam_core.jobqueue.event_log import EventLog
from medcam_core.serialize import write_json_atomic

T0 = 1_790_000_000.0
MONITOR = "val_loss"  # the presets' (job_config.json below): "best val" is the lowest val_loss
JOBS = [
    ("pneumonia", "standard", 10),
    ("pneumonia", "intensive", 15),
    ("cardiomegaly", "standard", 10),
    ("osteoporosis", "standard", 10),
]


def _logs(epoch: int) -> dict[str, float]:
    decay = math.exp(-epoch / 3)
    return {
        "loss": 0.7 * decay + 0.05,
        "val_loss": 0.6 * decay + 0.12,
        "accuracy": 1 - 0.45 * decay,
        "val_accuracy": 0.97 - 0.4 * decay,
        "auc": 1 - 0.4 * decay,
        "val_auc": 0.99 - 0.45 * decay,
    }


def _train(emit, job_id: str, t: float, epochs: int, upto: int) -> float:
    emit(StageStarted(job_id, "fit", time=t))
    for epoch in range(1, upto + 1):
        emit(EpochStarted(job_id, epoch, epochs, 18, time=t))
        t += 2.0
        emit(EpochEnded(job_id, epoch, epochs, _logs(epoch), 1e-3 if epoch < 6 else 5e-4, 2.0, time=t))
    return t


def write_scripted_queue(root: Path) -> float:
    """Write the history under `root`; return the time of its last event."""
    root.mkdir(parents=True, exist_ok=True)
    log = EventLog(root / "events.jsonl")
    jobs = [
        {"id": f"{d}_{p}", "dataset": d, "preset": p, "status": "queued", "folder": f"densenet121_{d}_{p}_models"}
        for d, p, _ in JOBS
    ]
    log(QueueStarted(jobs, str(root), "CPU (2 cores)", "medcam.toml", time=T0))
    t = T0
    # 1: pneumonia × standard finishes
    log(JobStarted("pneumonia_standard", "pneumonia", "standard", 1, 4, 10, monitor=MONITOR, time=t))
    log(
        DatasetLoaded(
            "pneumonia_standard", {"train": {"positive": 140, "negative": 140}}, {"train": 200}, 0, {}, 1.0, time=t + 1
        )
    )
    log(
        ModelBuilt(
            "pneumonia_standard", 7_300_161, 592_705, "conv5_block15_0_bn", 20, "cached-features", 2.0, time=t + 3
        )
    )
    t = _train(log, "pneumonia_standard", t + 10, 10, 8)
    folder = root / "densenet121_pneumonia_standard_models"
    metrics = {
        "accuracy": 0.95,
        "recall": 0.931,
        "specificity": 0.968,
        "auroc": 0.991,
        "auroc_ci": [0.973, 1.0],
        "threshold": 0.41,
        "best_epoch": 6,
    }
    log(JobFinished("pneumonia_standard", metrics, 6, 8, t + 5 - T0, str(folder), time=t + 5))
    _write_results(folder)
    # 2: cardiomegaly × standard fails at load
    t += 6
    log(JobStarted("cardiomegaly_standard", "cardiomegaly", "standard", 3, 4, 10, monitor=MONITOR, time=t))
    log(
        JobFailed(
            "cardiomegaly_standard",
            "load",
            "dataset folder not found: /data/nih/cardiomegaly",
            "check the dataset folder, its class folders and positive/negative in the config",
            'Traceback (most recent call last):\n  File "medcam_core/jobqueue/runner.py", line 212, in _run_job\n'
            "    data = self._load(job)\nmedcam_core.errors.DataError: dataset folder not found: "
            "/data/nih/cardiomegaly\n",
            0.2,
            time=t + 0.2,
        )
    )
    # 3: pneumonia × intensive mid-training
    t += 1
    log(JobStarted("pneumonia_intensive", "pneumonia", "intensive", 2, 4, 15, monitor=MONITOR, time=t))
    log(
        ModelBuilt(
            "pneumonia_intensive", 7_300_161, 592_705, "conv5_block15_0_bn", 20, "cached-features", 2.0, time=t + 2
        )
    )
    t = _train(log, "pneumonia_intensive", t + 3, 15, 4)
    log(EpochStarted("pneumonia_intensive", 5, 15, 18, time=t))
    log(BatchProgress("pneumonia_intensive", 5, 7, 18, 412.0, 0.21, time=t + 0.8))
    log.close()
    return t + 0.8


def _write_results(folder: Path) -> None:
    history = {k: [_logs(e)[k] for e in range(1, 9)] for k in _logs(1)}
    write_json_atomic(folder / "results" / "history.json", history)
    write_json_atomic(
        folder / "results" / "metrics.json",
        {
            "job": "pneumonia_standard",
            "threshold": {"value": 0.41, "method": "youden", "chosen_on": "validation"},
            "test": {
                "accuracy": 0.95,
                "precision": 0.964,
                "recall": 0.931,
                "sensitivity": 0.931,
                "specificity": 0.968,
                "f1": 0.947,
                "auroc": 0.991,
                "auprc": 0.99,
                "brier": 0.07,
                "confusion_matrix": {"tn": 30, "fp": 1, "fn": 2, "tp": 27},
                "n": {"positive": 29, "negative": 31},
                "patients": 44,
                "ci": {
                    "auroc": [0.973, 1.0],
                    "sensitivity": [0.82, 1.0],
                    "specificity": [0.9, 1.0],
                    "accuracy": [0.88, 1.0],
                },
            },
            "training": {"epochs_run": 8, "epochs_planned": 10, "best_epoch": 6},
        },
    )
    write_json_atomic(
        folder / "configs" / "job_config.json",
        {
            "preset": {
                "epochs": 10,
                "image_size": 224,
                "batch_size": 16,
                "learning_rate": 1e-4,
                "trainable_layers": 20,
                "weights": "imagenet",
                "monitor": MONITOR,
            }
        },
    )
    (folder / "models").mkdir(exist_ok=True)
    (folder / "models" / "model.keras").write_bytes(b"placeholder")
