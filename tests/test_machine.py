"""The machine panel: samples checked against readings taken here by other means, their events, the
panel live and attached, GPU lines through an injected NVML, and each job's peak memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import types
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from medcam_core.events import Event, MachineSampled
from medcam_core.formatting import MISSING
from medcam_core.jobqueue import machine
from medcam_core.jobqueue.event_log import EventLog, read_events
from medcam_core.jobqueue.machine import JobPeaks, MachineMonitor, MachineSampler, Nvml
from medcam_core.jobqueue.runner import Runner
from medcam_tui.app import MedcamApp
from medcam_tui.view_model import QueueView
from medcam_tui.widgets.machine_panel import MachinePanel, machine_text, size

from conftest import dataset_spec, tiny_queue

pytestmark = pytest.mark.cost(18)

MiB, GiB = 1 << 20, 1 << 30
SAMPLE = MachineSampled(
    cpu_percent=37.4,
    process_rss=int(1.25 * GiB),
    children_rss=512 * MiB,
    memory_used=int(10.2 * GiB),
    memory_total=int(23.4 * GiB),
    disk_free=112 * GiB,
    disk_total=480 * GiB,
    gpus=[
        {
            "index": 0,
            "name": "NVIDIA H200",
            "utilization": 93.0,
            "memory_used": 10 * GiB,
            "memory_total": 40 * GiB,
            "temperature": 65.0,
        }
    ],
    time=1_790_000_000.0,
)


def proc_stat_busy() -> tuple[float, float]:
    """(busy, total) CPU ticks of the whole machine, read from /proc/stat by hand."""
    values = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = values
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return total - idle - iowait, total


def meminfo() -> dict[str, int]:
    rows = (line.split() for line in Path("/proc/meminfo").read_text().splitlines())
    return {row[0].rstrip(":"): int(row[1]) * 1024 for row in rows}


def vm_field(name: str, pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(name)


def descendants_rss(pid: int) -> int:
    """Resident bytes of every process below `pid`, the tree walked from /proc by hand: a test run's
    worker may already hold other children (multiprocessing's resource tracker) beside this test's."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            after_name = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while the tree was read
            continue
        parents[int(stat.parent.name)] = int(after_name[1])
    below, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - below
        below |= frontier
    total = 0
    for child in below:
        try:
            total += vm_field("VmRSS", child)
        except (OSError, AssertionError):  # ended, or a zombie without memory
            continue
    return total


@pytest.mark.skipif(not Path("/proc/stat").is_file(), reason="reads /proc by hand for the independent figures")
def test_a_sample_agrees_with_the_machine_read_by_other_means(tmp_path: Path) -> None:
    holder = subprocess.Popen(  # a "worker" holding 64 MiB it has touched
        [sys.executable, "-c", "import sys; b = b'x' * (64 << 20); print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        root = tmp_path / "new" / "not-created-yet"
        busy0, total0 = proc_stat_busy()
        sampler = MachineSampler(root)
        end = time.perf_counter() + 1.0
        while time.perf_counter() < end:  # keep one core busy through the sampled window
            pass
        sample = sampler.sample()
        busy1, total1 = proc_stat_busy()
        worker = psutil.Process(holder.pid).memory_info().rss
        children = descendants_rss(os.getpid())
        here = vm_field("VmRSS")
    finally:
        holder.stdin.close()
        holder.wait(10)
    independent = 100 * (busy1 - busy0) / (total1 - total0)
    assert abs(sample.cpu_percent - independent) <= 5, (sample.cpu_percent, independent)
    assert sample.cpu_percent >= 0.5 * 100 / os.cpu_count()  # at least most of the core this test kept busy
    assert abs(sample.process_rss - here) <= 16 * MiB
    assert sample.children_rss >= worker >= 64 * MiB and abs(sample.children_rss - children) <= 8 * MiB
    info = meminfo()
    assert sample.memory_total == info["MemTotal"]
    assert abs(sample.memory_used - (info["MemTotal"] - info["MemAvailable"])) <= 0.02 * info["MemTotal"]
    disk = shutil.disk_usage(tmp_path)  # the nearest folder that exists
    assert sample.disk_total == disk.total and abs(sample.disk_free - disk.free) <= 0.01 * disk.total
    sampler.close()


def test_without_nvml_a_sample_has_no_gpus_and_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    sampler = MachineSampler(tmp_path)
    assert sampler.sample().gpus == []
    sampler.close()
    assert "GPU" not in machine_text(sampler.sample()).plain


class FakeNvml(types.ModuleType):
    """What `pynvml` offers, for two GPUs; the second reports neither utilisation nor temperature."""

    NVML_TEMPERATURE_GPU = 0

    def __init__(self) -> None:
        super().__init__("pynvml")
        self.calls: list[str] = []

    def nvmlInit(self) -> None:
        self.calls.append("init")

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes | str:
        return b"NVIDIA H200" if handle == 0 else "NVIDIA A100-SXM4-80GB"

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> types.SimpleNamespace:
        if handle == 1:
            raise RuntimeError("NVMLError_NotSupported")
        return types.SimpleNamespace(gpu=87, memory=40)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(used=(10 * GiB, GiB // 2)[handle], total=(40 * GiB, 80 * GiB)[handle], free=0)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        if handle == 1:
            raise RuntimeError("NVMLError_NotSupported")
        return 65


def test_gpu_lines_from_an_injected_nvml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = MachineSampler(tmp_path)
    sample = sampler.sample()
    sampler.close()
    assert fake.calls == ["init", "shutdown"]
    assert [g["name"] for g in sample.gpus] == ["NVIDIA H200", "NVIDIA A100-SXM4-80GB"]
    assert sample.gpus[0] == {
        "index": 0,
        "name": "NVIDIA H200",
        "utilization": 87.0,
        "memory_used": 10 * GiB,
        "memory_total": 40 * GiB,
        "temperature": 65.0,
    }
    lines = machine_text(sample).plain.splitlines()
    assert lines[-2:] == ["GPU0 87% · 10.0/40.0 GiB 65°C", f"GPU1 {MISSING} · 0.5/80.0 GiB"]


def test_an_nvml_that_cannot_start_means_no_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml()

    def no_driver() -> None:
        raise RuntimeError("NVMLError_DriverNotLoaded")

    fake.nvmlInit = no_driver  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    nvml = Nvml()
    assert nvml.readings() == []
    nvml.close()
    assert fake.calls == []  # never shut down what never started


def test_a_sample_round_trips_through_the_event_log(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log(SAMPLE)
    log.close()
    (back,) = read_events(tmp_path / "events.jsonl")
    assert type(back) is MachineSampled and back == SAMPLE
    assert Event.from_json(SAMPLE.to_json()).to_json() == SAMPLE.to_json()
    line = json.loads((tmp_path / "events.jsonl").read_text())
    assert line["type"] == "machine_sampled" and line["gpus"][0]["memory_total"] == 40 * GiB


def test_the_monitor_samples_off_the_callers_thread_until_its_block_ends(tmp_path: Path) -> None:
    seen: list[tuple[MachineSampled, str]] = []
    with MachineMonitor(tmp_path, lambda e: seen.append((e, threading.current_thread().name)), interval_s=0.05):
        deadline = time.monotonic() + 10
        while len(seen) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    count = len(seen)
    time.sleep(0.2)
    assert len(seen) == count  # stopped with its block
    assert {name for _, name in seen} == {"medcam-machine"}
    assert not any(t.name == "medcam-machine" for t in threading.enumerate())
    assert all(isinstance(e, MachineSampled) for e, _ in seen)


def test_the_panel_text_is_compact_and_formats_sizes() -> None:
    lines = machine_text(SAMPLE).plain.splitlines()
    assert lines == [
        "CPU 37% · RAM 10.2/23.4 GiB",
        "medcam 1.2 GiB",
        "workers 512 MiB",
        "disk 112 GiB free of 480 GiB",
        "GPU0 93% · 10.0/40.0 GiB 65°C",
    ]
    assert max(map(len, lines)) <= 29  # fits a third of a 100-column screen, inside border and padding
    assert [size(v) for v in (0, 1023, 1024, 5 * MiB, 3 * 1024 * GiB)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "5.0 MiB",
        "3.0 TiB",
    ]


def style_of(text: Text, part: str) -> str:
    start = text.plain.index(part)
    return " ".join(str(s.style) for s in text.spans if s.start <= start < s.end)


def test_figures_near_their_limit_stand_out() -> None:
    calm = machine_text(SAMPLE)  # CPU 37 %, RAM 44 %, disk 23 % free: nothing to see
    assert style_of(calm, "37%") == style_of(calm, "10.2/23.4") == style_of(calm, "112 GiB free") == ""
    assert style_of(calm, "93%") == "bold red"  # the GPU at 93 % busy
    tight = replace(SAMPLE, cpu_percent=75.0, memory_used=int(22.5 * GiB), disk_free=20 * GiB)
    text = machine_text(tight)
    assert style_of(text, "75%") == "bold yellow" and style_of(text, "22.5/23.4") == "bold red"
    assert style_of(text, "20.0 GiB free") == "bold red"  # 4 % free


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux resets the peak through /proc")
def test_a_jobs_peak_memory_is_its_own() -> None:
    peaks = JobPeaks()
    peaks.start()
    before = vm_field("VmRSS")
    block = b"x" * (128 * MiB)
    first = peaks.read()
    del block
    assert first["over"] == "job" and first["gpu_bytes"] is None
    assert first["process_bytes"] >= before + 120 * MiB
    assert abs(first["process_bytes"] - vm_field("VmHWM")) <= 4 * MiB
    peaks.start()  # the next job starts from what the process holds now, not from the last job's peak
    assert peaks.read()["process_bytes"] <= first["process_bytes"] - 100 * MiB


def test_a_jobs_peak_is_at_least_what_its_sampler_saw_and_the_next_job_forgets_it() -> None:
    peaks = JobPeaks()
    peaks.start()
    seen = peaks.read()["process_bytes"] + 64 * MiB  # as if the sampler caught pages the kernel's mark missed
    peaks.observe(seen)
    assert peaks.read()["process_bytes"] == seen
    peaks.start()
    assert peaks.read()["process_bytes"] < seen


class PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield MachinePanel(id="machine")

    def on_mount(self) -> None:
        view = QueueView()
        view.apply(SAMPLE)
        self.query_one(MachinePanel).refresh_from(view)


def test_machine_panel_snapshot(snap_compare) -> None:
    assert snap_compare(PanelApp(), terminal_size=(40, 8))


def panel_text(app: App) -> str:
    return str(app.query_one(MachinePanel).render())


async def test_the_live_panel_shows_cpu_and_memory_and_updates(tmp_path: Path, monkeypatch) -> None:
    """The runner's sampler feeds the home screen while a job runs (one that waits to be told to quit)."""
    from test_tui import make_app, runner_busy, wait_for

    monkeypatch.setattr(machine, "SAMPLE_INTERVAL_S", 0.1)

    def long_job(self: Runner) -> None:
        while not self.control.quitting:
            time.sleep(0.02)

    monkeypatch.setattr(Runner, "_run_here", long_job)
    config = tiny_queue((dataset_spec(tmp_path, "missing"),), tmp_path / "out")
    app, log = make_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.view.machine is not None, timeout=30)
        first = app.view.machine
        await wait_for(pilot, lambda: app.view.machine is not first and "CPU" in panel_text(app), timeout=30)
        await pilot.pause()
        sample = app.view.machine
        text = panel_text(app)
        assert f"CPU {sample.cpu_percent:.0f}%" in text and f"medcam {size(sample.process_rss)}" in text
        assert "RAM " in text and app.query_one(MachinePanel).border_subtitle == "every 2 s"
        panel = app.query_one(MachinePanel).region
        failures = app.query_one("#failures-box").region
        assert panel.height >= 5 and failures.height >= 5 and app.query_one("#queue").region.height >= 8
        app.runner.control.quit()
        await wait_for(pilot, lambda: not runner_busy(), timeout=30)
    log.close()
    assert not any(t.name == "medcam-machine" for t in threading.enumerate())


async def test_a_real_job_records_samples_and_its_peak_and_attach_shows_the_last(
    synthetic_root: Path, tmp_path: Path
) -> None:
    from test_tui import wait_for

    config = tiny_queue((dataset_spec(synthetic_root, "pneumonia"),), tmp_path / "out")
    log = EventLog(config.output / "events.jsonl")
    Runner(config, [log]).run()
    log.close()
    assert not any(t.name == "medcam-machine" for t in threading.enumerate())
    events = read_events(config.output / "events.jsonl")
    kinds = [e.kind for e in events]
    samples = [e for e in events if isinstance(e, MachineSampled)]
    assert samples and kinds[-1] == "queue_finished"  # sampling stopped before the queue's last word
    started = next(e.time for e in events if e.kind == "job_started")
    metrics_file = config.output / "densenet121_pneumonia_standard_models/results/metrics.json"
    read = metrics_file.stat().st_mtime  # the peak is read just before metrics.json is written
    during = [s.process_rss for s in samples if started <= s.time <= read]
    metrics = json.loads(metrics_file.read_text())
    peak = metrics["training"]["peak_memory"]
    assert peak["gpu_bytes"] is None and peak["over"] in ("job", "process")
    assert during and peak["process_bytes"] >= max(during)  # the peak is at least what was sampled in the job
    # not `<= lifetime_peak_rss()`: after the job's clear_refs reset the kernel's ru_maxrss is max(the
    # mm's reset high-water mark, what exited threads recorded), which a later reading can leave below
    assert peak["process_bytes"] <= psutil.virtual_memory().total

    app = MedcamApp(attach=config.output)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(
            pilot, lambda: app.view.finished and "last sample" in str(app.query_one(MachinePanel).border_subtitle)
        )
        text = panel_text(app)
        assert f"CPU {samples[-1].cpu_percent:.0f}%" in text
        assert f"medcam {size(samples[-1].process_rss)}" in text
