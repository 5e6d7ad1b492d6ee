"""Keras hooks that turn training into events and obey the queue's control at batch boundaries."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import keras

from medcam_core.events import BatchProgress, EpochEnded, EpochStarted, Event
from medcam_core.jobqueue.control import QueueControl


def _finite(value: object) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


class StopRequested(Exception):
    """Leaves `fit` at a batch boundary without closing the epoch.

    `model.stop_training` would still validate and end the partial epoch, and Keras'
    BackupAndRestore and CSVLogger would then record half an epoch as a completed one.
    """

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class EventCallback(keras.callbacks.Callback):
    """Emit epoch and (throttled) batch events; pause while paused; leave fit when asked to stop.

    Batch events go out at most every `throttle_s` seconds plus the epoch's last batch, so sinks
    (a JSONL file, a TUI) see ~10 Hz whatever the batch rate.
    """

    def __init__(
        self,
        job_id: str,
        emit: Callable[[Event], None],
        control: QueueControl,
        batch_size: int,
        throttle_s: float = 0.1,
        epoch_offset: int = 0,
    ) -> None:
        super().__init__()
        if throttle_s < 0:
            raise ValueError(f"throttle_s must be ≥ 0, got {throttle_s!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size!r}")
        self.job_id = job_id
        self.emit = emit
        self.control = control
        self.batch_size = batch_size
        self.throttle_s = throttle_s
        self.epoch_offset = epoch_offset
        self.stopped: tuple[str, str] | None = None
        self._epochs = 0
        self._epoch = 0
        self._steps = 0
        self._epoch_start = 0.0
        self._last_emit = 0.0
        self._paused_s = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._epochs = int(self.params.get("epochs") or 0) + self.epoch_offset
        self._steps = int(self.params.get("steps") or 0)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch + 1 + self.epoch_offset
        self._epoch_start = time.perf_counter()
        self._paused_s = 0.0
        self._last_emit = 0.0
        self.emit(EpochStarted(self.job_id, self._epoch, self._epochs, self._steps))

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        done = batch + 1
        if now - self._last_emit >= self.throttle_s or done == self._steps:
            self._last_emit = now
            elapsed = max(1e-9, now - self._epoch_start - self._paused_s)
            self.emit(
                BatchProgress(
                    self.job_id,
                    self._epoch,
                    done,
                    self._steps,
                    done * self.batch_size / elapsed,
                    _finite((logs or {}).get("loss")),
                )
            )
        if self.control.paused:
            t0 = time.perf_counter()
            self.control.wait_while_paused(self.job_id)
            self._paused_s += time.perf_counter() - t0
        request = self.control.stop_requested(self.job_id)
        if request is not None:
            self.stopped = request
            raise StopRequested(*request)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        lr = _finite(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.emit(
            EpochEnded(
                self.job_id,
                epoch + 1 + self.epoch_offset,
                self._epochs,
                {k: _finite(v) for k, v in (logs or {}).items() if k != "learning_rate"},
                lr,
                time.perf_counter() - self._epoch_start,
            )
        )
