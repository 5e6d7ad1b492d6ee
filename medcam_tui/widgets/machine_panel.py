"""The machine under the queue, from its latest `MachineSampled` event: CPU, memory, disk, GPUs.

Narrow on purpose: a third of a 100-column screen holds 29 characters a line; one line per GPU.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from medcam_core.events import MachineSampled
from medcam_core.formatting import MISSING
from medcam_core.jobqueue.machine import SAMPLE_INTERVAL_S, GpuReading
from medcam_tui.view_model import QueueView

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
BUSY, FULL = 70.0, 90.0  # percent from which a figure turns yellow, then red
DISK_LOW, DISK_OUT = 15.0, 5.0  # percent free under which the disk turns yellow, then red


def _scale(total: int) -> int:
    """The power of 1024 that shows `total` as 1 to 1023 of a unit."""
    power = 0
    while total >= 1024 and power < len(UNITS) - 1:
        total //= 1024
        power += 1
    return power


def _in_unit(value: int, power: int) -> str:
    scaled = value / 1024**power
    return f"{scaled:.1f}" if scaled < 100 and power > 0 else f"{scaled:.0f}"


def size(value: int) -> str:
    """Bytes for a person: 512 MiB, 1.2 GiB, 112 GiB."""
    power = _scale(value)
    return f"{_in_unit(value, power)} {UNITS[power]}"


def share(used: int, total: int) -> str:
    """`used` of `total` in the total's unit: 10.2/23.4 GiB."""
    power = _scale(total)
    return f"{_in_unit(used, power)}/{_in_unit(total, power)} {UNITS[power]}"


def level(percent: float | None, busy: float = BUSY, full: float = FULL) -> str:
    if percent is None or percent < busy:
        return ""
    return "bold yellow" if percent < full else "bold red"


def gpu_line(gpu: GpuReading) -> Text:
    """GPU0 87% · 10.0/40.0 GiB 65°C (a figure the GPU does not report shows as —)."""
    line = Text(f"GPU{gpu.index} ")
    line.append(f"{gpu.utilization:.0f}%" if gpu.utilization is not None else MISSING, level(gpu.utilization))
    if gpu.memory_used is not None and gpu.memory_total:
        line.append(" · ")
        line.append(share(gpu.memory_used, gpu.memory_total), level(100 * gpu.memory_used / gpu.memory_total))
    line.append(f" {gpu.temperature:.0f}°C" if gpu.temperature is not None else "")
    return line


def machine_text(sample: MachineSampled) -> Text:
    memory = 100 * sample.memory_used / sample.memory_total if sample.memory_total else None
    text = Text("CPU ")
    text.append(f"{sample.cpu_percent:.0f}%", level(sample.cpu_percent))
    text.append(" · RAM ")
    text.append(share(sample.memory_used, sample.memory_total), level(memory))
    text.append(f"\nmedcam {size(sample.process_rss)}")
    if sample.children_rss:
        text.append(f"\nworkers {size(sample.children_rss)}")
    disk_free = 100 * sample.disk_free / sample.disk_total if sample.disk_total else None
    text.append("\ndisk ")
    used = None if disk_free is None else 100 - disk_free
    text.append(f"{size(sample.disk_free)} free", level(used, 100 - DISK_LOW, 100 - DISK_OUT))
    text.append(f" of {size(sample.disk_total)}")
    for raw in sample.gpus:
        text.append("\n")
        text.append_text(gpu_line(GpuReading(**raw)))
    return text


class MachinePanel(Static):
    DEFAULT_CSS = """
    MachinePanel {
        height: auto;
        max-height: 12;
        padding: 0 1;
        border: round $secondary;
        border-title-align: left;
    }
    """

    def on_mount(self) -> None:
        self.border_title = "machine"
        self.update(f"no sample yet: taken every {SAMPLE_INTERVAL_S:g} s while the queue runs")

    def refresh_from(self, view: QueueView) -> None:
        sample = view.machine
        if sample is None:
            return
        self.update(machine_text(sample))
        self.border_subtitle = "last sample" if view.finished else f"every {SAMPLE_INTERVAL_S:g} s"
        self.tooltip = "\n".join(f"GPU{g['index']}: {g['name']}" for g in sample.gpus) or None
