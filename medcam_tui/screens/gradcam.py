"""Grad-CAM of one finished model: its test images, the selected overlay previewed in the terminal.

The preview is textual-image's widget: real pixels where the terminal speaks the Kitty graphics
protocol or Sixel, coloured half-cells elsewhere (it asks the terminal once, when first imported,
before Textual starts). The exported PNGs carry the full resolution. The model loads and the maps
are computed in thread workers, so TensorFlow never blocks the screen.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from PIL import Image
from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static
from textual_image.renderable import Image as _chosen_renderable
from textual_image.renderable import UnicodeImage
from textual_image.widget import HalfcellImage
from textual_image.widget import Image as AutoImage

from medcam_core.errors import MedcamError
from medcam_core.outputs.job_folder import JobFolder
from medcam_core.safe_text import printable

# without a terminal to ask, textual-image falls back to monochrome characters: colour half-cells
# show a heatmap far better
ImageWidget = HalfcellImage if _chosen_renderable is UnicodeImage else AutoImage


class GradCAMScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Back", id="gradcam-back", tooltip="Back"),
        Binding("x", "export_selected", "Export", id="gradcam-export", tooltip="Export PNGs of the selected image"),
        Binding("A", "export_all", "Export all", id="gradcam-export-all", tooltip="Export PNGs of every test image"),
        Binding(
            "l",
            "toggle_layer",
            "Layer",
            id="gradcam-layer",
            tooltip="Switch between the last feature map (relu) and the plan's conv5_block16_2_conv",
        ),
    ]

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        metrics = json.loads(JobFolder(folder).metrics_file.read_text(encoding="utf-8"))
        config = json.loads(JobFolder(folder).config_file.read_text(encoding="utf-8"))
        self.threshold = float(metrics["threshold"]["value"])
        self.image_size = int(config["preset"]["image_size"])
        with open(JobFolder(folder).predictions_file, encoding="utf-8") as fh:
            self.rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
        self.model: Any = None
        self.cam: Any = None
        self.current: Any = None
        self.cam_layer: str | None = None
        self.exported: list[Path] = []

    def compose(self) -> ComposeResult:
        yield Label(f"[b]Grad-CAM[/b] · {self.folder.name} · threshold {self.threshold:.3f}", id="gradcam-title")
        with Horizontal():
            yield DataTable(id="gradcam-images", cursor_type="row", zebra_stripes=True)
            with Vertical(id="gradcam-right"):
                yield ImageWidget(id="gradcam-preview")
                yield Static("", id="gradcam-caption")
        yield Footer(compact=True)  # its own keys plus the queue's: roomy spacing would hide the palette key

    def on_mount(self) -> None:
        table = self.query_one("#gradcam-images", DataTable)
        for column in ("image", "label", "P(positive)", "predicted"):
            table.add_column(column, key=column)
        for i, row in enumerate(self.rows):
            prob = float(row["probability"])
            table.add_row(
                Text(printable(Path(row["path"]).name)),
                "positive" if row["label"] == "1" else "negative",
                f"{prob:.3f}",
                "positive" if prob >= self.threshold else "negative",
                key=str(i),
            )
        table.focus()
        self.load_model()

    @work(thread=True, exclusive=True, group="gradcam-load", exit_on_error=False)
    def load_model(self) -> None:
        """A model that cannot be loaded safely is a notice on this screen, never the app's end."""
        from medcam_core.explain.cam import GradCAM
        from medcam_core.train.model import load_saved_model

        try:
            model = load_saved_model(JobFolder(self.folder).model_file)
            cam = GradCAM(model, self.cam_layer)
        except MedcamError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=15)
            return
        self.model, self.cam = model, cam
        self.cam_layer = self.cam.layer
        self.app.call_from_thread(self.show_selected)

    def selected(self) -> int | None:
        table = self.query_one("#gradcam-images", DataTable)
        if not table.row_count:
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_selected()

    def show_selected(self) -> None:
        index = self.selected()
        if index is not None and self.model is not None:
            self.compute(index)

    @work(thread=True, exclusive=True, group="gradcam-compute", exit_on_error=False)
    def compute(self, index: int) -> None:
        from medcam_core.data.decode import ImageSkipped
        from medcam_core.explain.cam import upsample
        from medcam_core.explain.maps import Item, explain
        from medcam_core.explain.render import load_original, overlay

        row = self.rows[index]
        try:
            (result,) = explain(
                self.cam, [Item(Path(row["path"]), int(row["label"]))], self.image_size, "predicted", self.threshold
            )
            gray = load_original(result.item.path)
        except ImageSkipped as exc:  # the file changed or vanished since the job read it
            message = escape(f"{printable(Path(row['path']).name)}: {printable(exc)}")
            self.app.call_from_thread(self.query_one("#gradcam-caption", Static).update, message)
            return
        picture = Image.fromarray(overlay(gray, upsample(result.cam, *gray.shape)))
        explains = "positive" if result.target > 0 else "negative"
        caption = (
            f"{escape(printable(result.item.path.name))} · true {'positive' if result.item.label else 'negative'} · "
            f"P(positive) {result.probability:.3f} · layer {self.cam.layer} · explains the {explains} class"
        )
        self.app.call_from_thread(self._show, picture, caption, result)

    def _show(self, picture: Image.Image, caption: str, result: Any) -> None:
        self.current = result
        self.query_one("#gradcam-preview").image = picture
        self.query_one("#gradcam-caption", Static).update(caption)

    def action_toggle_layer(self) -> None:
        if self.model is None:
            return
        from medcam_core.explain.cam import GradCAM
        from medcam_core.explain.maps import PLAN_LAYER

        self.cam_layer = PLAN_LAYER if self.cam.layer != PLAN_LAYER else None
        self.cam = GradCAM(self.model, self.cam_layer)
        self.notify(f"layer {self.cam.layer}")
        self.show_selected()

    def action_export_selected(self) -> None:
        index = self.selected()
        if index is not None:
            self.export([index])

    def action_export_all(self) -> None:
        self.export(list(range(len(self.rows))))

    @work(thread=True, exclusive=True, group="gradcam-export", exit_on_error=False)
    def export(self, indices: list[int]) -> None:
        from medcam_core.data.decode import ImageSkipped
        from medcam_core.explain.maps import Item, explain
        from medcam_core.explain.render import export

        if self.model is None:
            self.app.call_from_thread(self.notify, "the model is still loading", severity="warning")
            return
        items = [Item(Path(self.rows[i]["path"]), int(self.rows[i]["label"])) for i in indices]
        out = JobFolder(self.folder).gradcam_dir
        try:
            for result in explain(self.cam, items, self.image_size, "predicted", self.threshold):
                self.exported.append(export(result, out, self.cam.layer, self.threshold)["panel"])
        except (ImageSkipped, OSError) as exc:  # an image changed since the job, or the disk is full
            self.app.call_from_thread(self.notify, printable(f"export stopped: {exc}"), severity="error", markup=False)
            return
        self.app.call_from_thread(self.notify, f"exported {len(items)} image(s) to {out}")

    def action_close(self) -> None:
        self.dismiss(None)
