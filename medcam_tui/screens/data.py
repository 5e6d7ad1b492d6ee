"""`d`: the selected job's dataset as its training decodes it — a contact sheet per split and class.

The sheet is built by `medcam_core.data.preview` in a thread worker (discovery and decoding never
run on the UI thread, and nothing here imports TensorFlow) into `<output>/previews/<dataset>.png`
at the job's preset image size, and reused while the dataset folder has not changed since. It is
shown with the same textual-image widget as the Grad-CAM screen.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PIL import Image
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, Static
from textual.worker import Worker, WorkerState

from medcam_core.config import DatasetSpec, QueueConfig
from medcam_core.data.preview import PER_CLASS, Preview, PreviewClass, cached_preview
from medcam_core.data.splits import SPLITS
from medcam_core.errors import DataError, MedcamError
from medcam_core.safe_text import printable
from medcam_tui.screens.gradcam import ImageWidget

PREVIEW_DIR = "previews"
WORKER = "data-preview"
log = logging.getLogger("medcam")
_building = threading.Lock()  # one build at a time: a screen closed and opened again waits, then reuses


class DataScreen(Screen[None]):
    DEFAULT_CSS = """
    DataScreen #data-body { height: 1fr; }
    DataScreen #data-sheet { height: 1fr; width: auto; }
    DataScreen #data-status, DataScreen #data-counts { height: auto; }
    """
    BINDINGS = [Binding("escape", "close", "Back", id="data-back", tooltip="Back to the queue")]

    def __init__(self, dataset: str, spec: DatasetSpec | None, size: int, seed: int, folder: Path) -> None:
        super().__init__()
        self.dataset, self.spec, self.image_size, self.seed, self.folder = dataset, spec, size, seed, folder
        self.preview: Preview | None = None

    @classmethod
    def for_job(cls, config: QueueConfig, dataset: str, preset: str, output: Path) -> DataScreen:
        """The dataset at the size and seed the job trains with; a dataset gone from the config says so on screen."""
        spec = next((d for d in config.datasets if d.name == dataset), None)
        chosen = config.presets.get(preset) or config.presets[config.order[0]]
        return cls(dataset, spec, chosen.image_size, chosen.seed, output / PREVIEW_DIR)

    def compose(self) -> ComposeResult:
        yield Label(f"[b]Data[/b] · {self.dataset} · {self.image_size} px, as training decodes it", id="data-title")
        yield Static("building the contact sheet…", id="data-status", markup=False)
        with Vertical(id="data-body"):
            yield ImageWidget(id="data-sheet")
        yield Static("", id="data-counts")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#data-body").loading = True
        self.build()

    @work(thread=True, exit_on_error=False, name=WORKER, group=WORKER)
    def build(self) -> tuple[Preview, Image.Image]:
        if self.spec is None:
            raise DataError(f"dataset {self.dataset!r} is not in the queue's config")
        with _building:
            preview = cached_preview(self.spec, self.image_size, self.seed, self.folder)
        with Image.open(preview.sheet) as sheet:
            return preview, sheet.copy()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != WORKER or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        event.stop()
        self.query_one("#data-body").loading = False
        status = self.query_one("#data-status", Static)
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            if isinstance(error, (MedcamError, OSError)):  # a missing folder, a full disk: the user's to fix
                status.update(printable(f"no preview: {error}"))
            else:
                log.error("data preview of %s failed", self.dataset, exc_info=error)
                status.update(printable(f"no preview: {error!r} (see the log)"))
            return
        self.preview, picture = event.worker.result
        self.query_one("#data-sheet", ImageWidget).image = picture
        status.update(
            printable(f"{self.preview.written} image(s), up to {PER_CLASS} per split and class · {self.preview.sheet}")
        )
        self.query_one("#data-counts", Static).update(counts_table(self.preview))

    def action_close(self) -> None:
        self.dismiss(None)


def counts_table(preview: Preview) -> Table:
    """Images per split and class in the dataset, and how many of them the sheet shows."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("split")
    rows = {(row.split, row.cls): row for row in preview.rows}
    for cls in PreviewClass:
        names = next((row.names for row in preview.rows if row.cls is cls and row.names), ())
        table.add_column(Text(printable(f"{cls.value} ({', '.join(names)})" if names else cls.value)), justify="right")
    for split in SPLITS:
        cells = []
        for cls in PreviewClass:
            row = rows.get((split, cls))
            cells.append(f"{row.available} ({len(row.files)} shown)" if row else "—")
        table.add_row(split, *cells)
    return table
