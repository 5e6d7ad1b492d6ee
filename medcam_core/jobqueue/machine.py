"""The machine under the queue: CPU, memory, disk and GPUs, sampled on a thread of its own every ~2 s
while the queue runs and published as `MachineSampled` events, so the event log keeps them and
`--attach` shows them too; and each job's peak memory, for its `metrics.json`.

GPU figures come from NVIDIA's management library (`pip install nvidia-ml-py`) when it imports and
initialises; without it there are none, and nothing else changes.
"""

from __future__ import annotations

import logging
import resource
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from medcam_core.events import Event, MachineSampled
from medcam_core.outputs.metrics_schema import PeakMemory

log = logging.getLogger("medcam")
SAMPLE_INTERVAL_S = 2.0
PROC_STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class GpuReading:
    """One GPU; a figure the library could not give is None."""

    index: int
    name: str
    utilization: float | None  # % of the last sample period a kernel ran
    memory_used: int | None  # bytes
    memory_total: int | None
    temperature: float | None  # °C


class Nvml:
    """`pynvml` once initialised, or nothing: no package, no driver and no GPU all read as no GPUs."""

    def __init__(self) -> None:
        self._lib: Any = None
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:  # ImportError, NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded, …
            return
        self._lib = pynvml

    def readings(self) -> list[GpuReading]:
        lib = self._lib
        if lib is None:
            return []
        try:
            handles = [lib.nvmlDeviceGetHandleByIndex(i) for i in range(lib.nvmlDeviceGetCount())]
        except Exception:
            return []
        out = []
        for index, handle in enumerate(handles):
            name = _ask(lambda h=handle: lib.nvmlDeviceGetName(h))
            memory = _ask(lambda h=handle: lib.nvmlDeviceGetMemoryInfo(h))
            out.append(
                GpuReading(
                    index=index,
                    name=(name.decode() if isinstance(name, bytes) else str(name)) if name is not None else "",
                    utilization=_ask(lambda h=handle: float(lib.nvmlDeviceGetUtilizationRates(h).gpu)),
                    memory_used=int(memory.used) if memory is not None else None,
                    memory_total=int(memory.total) if memory is not None else None,
                    temperature=_ask(lambda h=handle: float(lib.nvmlDeviceGetTemperature(h, lib.NVML_TEMPERATURE_GPU))),
                )
            )
        return out

    def close(self) -> None:
        if self._lib is not None:
            _ask(self._lib.nvmlShutdown)
            self._lib = None


def _ask(read: Callable[[], Any]) -> Any:
    """One library call; a figure this GPU does not report (NVMLError_NotSupported, …) is None."""
    try:
        return read()
    except Exception:
        return None


def _busy_share(before: Any, after: Any) -> float:
    """Percent of CPU time spent busy between two `psutil.cpu_times()` (guest time is already in user)."""
    delta = {name: getattr(after, name) - getattr(before, name) for name in after._fields}
    total = sum(delta.values()) - delta.get("guest", 0.0) - delta.get("guest_nice", 0.0)
    idle = delta.get("idle", 0.0) + delta.get("iowait", 0.0)
    return 0.0 if total <= 0 else max(0.0, min(100.0, 100.0 * (total - idle) / total))


def _existing(path: Path) -> Path:
    """The output root, or its nearest existing parent before the queue created it."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


class MachineSampler:
    """One sample per call; CPU % is over the time since the previous call (or since creation)."""

    def __init__(self, root: Path, nvml: Nvml | None = None) -> None:
        self.root = Path(root)
        self.nvml = nvml if nvml is not None else Nvml()
        self._process = psutil.Process()
        self._cpu = psutil.cpu_times()

    def sample(self) -> MachineSampled:
        cpu = psutil.cpu_times()
        busy, self._cpu = _busy_share(self._cpu, cpu), cpu
        memory = psutil.virtual_memory()
        disk = shutil.disk_usage(_existing(self.root))
        return MachineSampled(
            cpu_percent=round(busy, 1),
            process_rss=self._process.memory_info().rss,
            children_rss=self._children_rss(),
            memory_used=memory.total - memory.available,
            memory_total=memory.total,
            disk_free=disk.free,
            disk_total=disk.total,
            gpus=[asdict(g) for g in self.nvml.readings()],
        )

    def _children_rss(self) -> int:
        total = 0
        for child in self._process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue  # a worker that ended between listing and reading
        return total

    def close(self) -> None:
        self.nvml.close()


class MachineMonitor:
    """`with MachineMonitor(root, emit):` samples into `emit` every `interval_s` on a daemon thread
    until the block ends. A sampling error is logged once and ends the sampling, never the queue."""

    def __init__(self, root: Path, emit: Callable[[Event], None], interval_s: float | None = None) -> None:
        self.root, self.emit = Path(root), emit
        self.interval_s = SAMPLE_INTERVAL_S if interval_s is None else interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="medcam-machine", daemon=True)

    def __enter__(self) -> MachineMonitor:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        sampler = MachineSampler(self.root)  # NVML starts here, off the caller's (and the UI's) thread
        try:
            while not self._stop.wait(self.interval_s):
                sample = sampler.sample()
                JOB_PEAKS.observe(sample.process_rss)
                self.emit(sample)
        except Exception:
            log.exception("machine sampling stopped")
        finally:
            sampler.close()


class JobPeaks:
    """A job's peak memory in the process that runs it (the queue's, or a worker's).

    On Linux `start` resets the process's peak resident size (VmHWM, through /proc/self/clear_refs),
    so the peak is the job's own; elsewhere it is the process's since it started (`over` says which).
    The kernel's high-water mark misses pages taken and given back (madvise) between its updates, so
    the peak is also at least every resident size the queue's own sampler `observe`d during the job.
    The GPU peak is TensorFlow's allocator's, per visible GPU, reset at `start` when TF is loaded.
    """

    def __init__(self) -> None:
        self.over = "process"
        self._observed = 0
        self._lock = threading.Lock()

    def observe(self, rss: int) -> None:
        with self._lock:
            self._observed = max(self._observed, rss)

    def start(self) -> None:
        with self._lock:
            self._observed = 0
        try:
            CLEAR_REFS.write_text("5")
            self.over = "job"
        except OSError:
            self.over = "process"
        tf = sys.modules.get("tensorflow")  # not loaded yet: this process has used no GPU memory
        if tf is not None:
            for device in _gpus(tf):
                _ask(lambda d=device: tf.config.experimental.reset_memory_stats(d))

    def read(self) -> PeakMemory:
        tf = sys.modules.get("tensorflow")
        gpus = _gpus(tf) if tf is not None else []
        peaks = [_ask(lambda d=d: int(tf.config.experimental.get_memory_info(d)["peak"])) for d in gpus]
        kernel = peak_rss() if self.over == "job" else lifetime_peak_rss()
        with self._lock:
            process_bytes = max(kernel, self._observed)
        return PeakMemory(
            process_bytes=process_bytes,
            over=self.over,
            gpu_bytes=[p for p in peaks if p is not None] or None,
        )


def _gpus(tf: Any) -> list[str]:
    """The GPUs TensorFlow sees, named as its memory functions take them: "GPU:0", …"""
    return [d.name.rpartition("device:")[2] for d in _ask(lambda: tf.config.list_logical_devices("GPU")) or []]


def peak_rss() -> int:
    """This process's peak resident size since the last reset (VmHWM), else since it started."""
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return lifetime_peak_rss()


def lifetime_peak_rss() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


JOB_PEAKS = JobPeaks()  # one per process: a process runs one job at a time
