"""Finished models: test metrics in a table; for the selected one, its curves, config and files."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static
from textual_plotext import PlotextPlot

from medcam_core.formatting import estimate, number
from medcam_core.outputs.results import JobResults, load_job_results
from medcam_core.safe_text import printable


def _display(path: Path) -> str:
    """Relative to the working directory when under it: shorter, and what the user typed."""
    try:
        return printable(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return printable(path)


class ModelBrowser(Screen[None]):
    BINDINGS = [
        Binding("escape,b", "close", "Back", id="browser-back", tooltip="Back to the queue"),
        Binding("g", "gradcam", "Grad-CAM", id="browser-gradcam", tooltip="Grad-CAM of the selected model"),
    ]

    def __init__(self, folders: list[tuple[str, Path]]) -> None:
        super().__init__()
        self.folders = dict(folders)
        self.results: dict[str, JobResults] = {}

    def compose(self) -> ComposeResult:
        yield Label("[b]Finished models[/b] — test split metrics (threshold chosen on validation)", id="browser-title")
        with Horizontal():
            yield DataTable(id="models", cursor_type="row", zebra_stripes=True)
            with Vertical(id="model-detail"):
                yield PlotextPlot(id="plot-loss")
                yield PlotextPlot(id="plot-acc")
                with VerticalScroll():
                    yield Static("", id="model-info")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#models", DataTable)
        for column in ("model", "AUROC [95% CI]", "acc", "sens", "spec", "n test", "epochs"):
            table.add_column(column, key=column)
        for job_id, folder in self.folders.items():
            res = self.results[job_id] = load_job_results(folder)
            test = res.test
            n = test.get("n", {})
            training = res.metrics.get("training", {})
            table.add_row(
                job_id,
                estimate(test.get("auroc"), test.get("ci", {}).get("auroc")),
                number(test.get("accuracy")),
                number(test.get("sensitivity")),
                number(test.get("specificity")),
                f"{n.get('positive', '?')}+/{n.get('negative', '?')}−",
                f"{training.get('epochs_run', '?')}/{training.get('epochs_planned', '?')}",
                key=job_id,
            )
        if not self.folders:
            self.query_one("#model-info", Static).update("No finished model yet.")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value in self.results:
            self.show(self.results[event.row_key.value])

    @property
    def selected(self) -> str | None:
        table = self.query_one("#models", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def show(self, res: JobResults) -> None:
        for plot_id, metric in (("#plot-loss", "loss"), ("#plot-acc", "accuracy")):
            plt = self.query_one(plot_id, PlotextPlot).plt
            plt.clear_data()
            plt.title(f"{metric}: train vs validation")
            for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
                values = res.history.get(key) or []
                xs = [i + 1 for i, v in enumerate(values) if v is not None]
                if xs:
                    plt.plot(xs, [v for v in values if v is not None], label=label, marker="braille")
            plt.xlabel("epoch")
            self.query_one(plot_id, PlotextPlot).refresh()
        self.query_one("#model-info", Static).update(self._info(res))

    @staticmethod
    def _info(res: JobResults) -> str:
        test, m = res.test, res.metrics
        cis = test.get("ci", {})
        cm = test.get("confusion_matrix", {})
        preset = res.config.get("preset", {})
        threshold = m.get("threshold", {})
        lines = [
            f"[b]{m.get('job', res.folder.name)}[/b]",
            f"threshold {number(threshold.get('value'))} ({threshold.get('method', '?')}, chosen on validation)",
            f"AUROC {estimate(test.get('auroc'), cis.get('auroc'))} · "
            f"AUPRC {number(test.get('auprc'))} · Brier {number(test.get('brier'))}",
            f"sensitivity {estimate(test.get('sensitivity'), cis.get('sensitivity'))} · "
            f"specificity {estimate(test.get('specificity'), cis.get('specificity'))}",
            "",
            "confusion matrix (test)     predicted −   predicted +",
            f"  actual −                  {cm.get('tn', '?'):>10}   {cm.get('fp', '?'):>11}",
            f"  actual +                  {cm.get('fn', '?'):>10}   {cm.get('tp', '?'):>11}",
            "",
            "config: "
            + ", ".join(
                f"{k}={preset[k]}"
                for k in (
                    "epochs",
                    "image_size",
                    "batch_size",
                    "learning_rate",
                    "trainable_layers",
                    "weights",
                    "monitor",
                )
                if k in preset
            ),
        ]
        gradcam = m.get("gradcam")
        if gradcam:
            lines.append("")
            lines.append("Grad-CAM localisation (synthetic masks):")
            for layer, figures in gradcam.get("layers", {}).items():
                lines.append(
                    f"  {layer}: pointing game {number(figures.get('pointing_game'))}, "
                    f"energy in mask {number(figures.get('energy_in_mask'))}"
                )
        if res.problems:
            lines += ["", "[red]" + "; ".join(res.problems) + "[/red]"]
        lines += ["", "[b]files[/b]"] + [f"  {p.relative_to(res.folder)}" for p in res.artifacts()]
        lines.append(f"  in {_display(res.folder)}")
        return "\n".join(lines)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_gradcam(self) -> None:
        self.app.open_gradcam(self.selected)
