"""Finished models: test metrics in a table; the train × test matrix of their external validations
(read in a thread worker); for the selected one, its test ROC (read from predictions.csv in a thread
worker), its training curves, config and files."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static
from textual_plotext import PlotextPlot

from medcam_core.formatting import estimate, number
from medcam_core.outputs.external import CrossDatasetMatrix, cell_text, cross_dataset_matrix, read_external
from medcam_core.outputs.job_folder import ExternalFolder, JobFolder, read_predictions
from medcam_core.outputs.pictures import RocCurve, roc_of
from medcam_core.outputs.results import JobResults, load_job_results
from medcam_core.safe_text import printable


def _display(path: Path) -> str:
    """Relative to the working directory when under it: shorter, and what the user typed."""
    try:
        return printable(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return printable(path)


def _external_lines(folder: Path) -> list[str]:
    """The model's validations on other datasets, each at the threshold it froze on its own validation."""
    lines = []
    for external in JobFolder(folder).externals():
        metrics = read_external(external)
        if metrics is None:
            lines.append(f"  {escape(printable(external.dataset))}: unreadable {ExternalFolder.METRICS}")
            continue
        test, threshold = metrics.get("test", {}), metrics.get("threshold", {})
        ci, n = test.get("ci", {}), test.get("n", {})
        lines.append(
            f"  {escape(printable(external.dataset))} ({metrics.get('split', '?')} images, "
            f"{n.get('positive', '?')}+/{n.get('negative', '?')}−): "
            f"AUROC {estimate(test.get('auroc'), ci.get('auroc'))} · sens {number(test.get('sensitivity'))} · "
            f"spec {number(test.get('specificity'))} at "
            f"{number(threshold.get('value'))} ({escape(printable(threshold.get('source', '?')))})"
        )
    return ["", "[b]external validation[/b]", *lines] if lines else []


def _files(res: JobResults) -> list[str]:
    lines = ["", "[red]" + escape("; ".join(res.problems)) + "[/red]"] if res.problems else []
    lines += ["", "[b]files[/b]"] + [f"  {escape(printable(p.relative_to(res.folder)))}" for p in res.artifacts()]
    return lines + [f"  in {escape(_display(res.folder))}"]


class ModelBrowser(Screen[None]):
    DEFAULT_CSS = """
    ModelBrowser #models-side { width: 1fr; }
    ModelBrowser #models { height: auto; max-height: 50%; }
    ModelBrowser #matrix { height: auto; max-height: 30%; display: none; }
    ModelBrowser #matrix.shown { display: block; }
    """
    BINDINGS = [
        Binding("escape,b", "close", "Back", id="browser-back", tooltip="Back to the queue"),
        Binding("g", "gradcam", "Grad-CAM", id="browser-gradcam", tooltip="Grad-CAM of the selected model"),
    ]

    def __init__(self, folders: list[tuple[str, Path]]) -> None:
        super().__init__()
        self.folders = dict(folders)
        self.results: dict[str, JobResults] = {}
        self.rocs: dict[str, RocCurve | str] = {}  # per job: its test ROC, or why there is none

    def compose(self) -> ComposeResult:
        yield Label("[b]Finished models[/b] — test split metrics (threshold chosen on validation)", id="browser-title")
        with Horizontal():
            with Vertical(id="models-side"):
                yield DataTable(id="models", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="matrix", cursor_type="none", zebra_stripes=True)
                yield PlotextPlot(id="plot-roc")
            with Vertical(id="model-detail"):
                yield PlotextPlot(id="plot-loss")
                yield PlotextPlot(id="plot-acc")
                with VerticalScroll():
                    yield Static("", id="model-info")
        yield Footer()

    def on_mount(self) -> None:
        roc = self.query_one("#plot-roc", PlotextPlot)
        roc.styles.height, roc.styles.min_height = "1fr", 12  # the rest of the column (the app's CSS says 12)
        table = self.query_one("#models", DataTable)
        for column in ("model", "AUROC [95% CI]", "acc", "sens", "spec", "n test", "epochs"):
            table.add_column(column, key=column)
        for job_id, folder in self.folders.items():
            res = self.results[job_id] = load_job_results(folder)
            test = res.test
            n = test.get("n", {})
            training = res.metrics.get("training", {})
            epochs = f"{training.get('epochs_run', '?')}/{training.get('epochs_planned', '?')}"
            epochs = "imported" if res.imported is not None else epochs
            table.add_row(
                job_id,
                estimate(test.get("auroc"), test.get("ci", {}).get("auroc")),
                number(test.get("accuracy")),
                number(test.get("sensitivity")),
                number(test.get("specificity")),
                f"{n.get('positive', '?')}+/{n.get('negative', '?')}−",
                epochs,
                key=job_id,
            )
        self.load_matrix(list(self.folders.values()))
        if not self.folders:
            self.query_one("#model-info", Static).update("No finished model yet.")
            self.query_one("#plot-roc", PlotextPlot).plt.title("ROC: no finished model yet")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value in self.results:
            self.show(self.results[event.row_key.value])
            self.show_roc(event.row_key.value)

    @property
    def selected(self) -> str | None:
        table = self.query_one("#models", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @work(thread=True, exclusive=True, group="browser-matrix", exit_on_error=False)
    def load_matrix(self, folders: list[Path]) -> None:
        """Off the UI thread: every model's own test AUROC and its external validations."""
        matrix = cross_dataset_matrix(folders)
        self.app.call_from_thread(self._show_matrix, matrix)

    def _show_matrix(self, matrix: CrossDatasetMatrix) -> None:
        """Rows: models; columns: datasets scored; `*` marks a model's own test split."""
        if not matrix or not self.is_attached:
            return
        table = self.query_one("#matrix", DataTable)
        table.border_title = "AUROC by test dataset (* own test split; others: external validation)"
        table.add_column("model", key="model")
        for dataset in matrix.datasets:
            table.add_column(printable(dataset), key=dataset)
        for model in matrix.models:
            cells = [matrix.cells.get((model, d)) for d in matrix.datasets]
            shown = [cell_text(c, compact=True) + (" *" if c is not None and c.own else "") for c in cells]
            table.add_row(printable(model), *shown, key=model)
        table.add_class("shown")

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

    def show_roc(self, job_id: str) -> None:
        """The test ROC of a job: drawn at once when known, else read from predictions.csv in a worker."""
        res = self.results[job_id]
        if job_id not in self.rocs and not JobFolder(res.folder).predictions_file.is_file():
            self.rocs[job_id] = f"no {JobFolder.PREDICTIONS}"
        if job_id in self.rocs:
            self._draw_roc(self.rocs[job_id])
            return
        self._draw_roc(f"reading {JobFolder.PREDICTIONS}…")
        self.load_roc(job_id, res.folder, res.metrics.get("threshold", {}).get("value"))

    @work(thread=True, exclusive=True, group="browser-roc", exit_on_error=False)
    def load_roc(self, job_id: str, folder: Path, threshold: float | None) -> None:
        """Off the UI thread: read the predictions, compute the curve, hand it to the screen."""
        try:
            roc: RocCurve | str = roc_of(read_predictions(JobFolder(folder).predictions_file), threshold)
        except (OSError, ValueError, KeyError) as exc:
            roc = f"unreadable {JobFolder.PREDICTIONS}: {exc}"
        self.app.call_from_thread(self._roc_loaded, job_id, roc)

    def _roc_loaded(self, job_id: str, roc: RocCurve | str) -> None:
        self.rocs[job_id] = roc
        if self.is_attached and self.selected == job_id:
            self._draw_roc(roc)

    def _draw_roc(self, roc: RocCurve | str) -> None:
        try:
            widget = self.query_one("#plot-roc", PlotextPlot)
        except NoMatches:
            return
        plt = widget.plt
        plt.clear_data()
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        plt.xlabel("1 − specificity  (up: sensitivity)")
        if isinstance(roc, str):
            plt.title(f"ROC (test): {printable(roc)}")
        elif roc.auroc is None:
            plt.title(f"ROC (test): one class only ({roc.positives}+/{roc.negatives}−)")
        else:
            point = " · ● threshold" if roc.point is not None else ""
            plt.title(f"ROC (test, {roc.positives}+/{roc.negatives}−) · AUROC {number(roc.auroc)}{point}")
            plt.plot([0, 1], [0, 1], color="gray", marker="braille")
            plt.plot(roc.fpr, roc.tpr, marker="braille", color="cyan")
            if roc.point is not None:
                plt.scatter([roc.point[0]], [roc.point[1]], marker="●", color="red")
        widget.refresh()

    @staticmethod
    def _info(res: JobResults) -> str:
        if res.imported is not None:
            return ModelBrowser._imported_info(res)
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
            lines.append(f"Grad-CAM localisation (against {gradcam.get('ground_truth', 'masks')}):")
            for layer, figures in gradcam.get("layers", {}).items():
                lines.append(
                    f"  {layer}: pointing game {number(figures.get('pointing_game'))}, "
                    f"energy in mask {number(figures.get('energy_in_mask'))}"
                )
        return "\n".join(lines + _external_lines(res.folder) + _files(res))

    @staticmethod
    def _imported_info(res: JobResults) -> str:
        """A model file `evaluate` scored: where it came from and how it was used; no training of ours."""
        source = res.imported or {}
        lines = [
            f"[b]imported model[/b] {escape(printable(source.get('source', '?')))}",
            f"sha256 {str(source.get('sha256', '?'))[:16]}… · {source.get('image_size', '?')} px · "
            f"{source.get('preprocess', '?')} preprocessing · positive output {source.get('positive_index', '?')}",
            "not trained here: no own test split, training curves or Grad-CAM figures",
        ]
        return "\n".join(lines + _external_lines(res.folder) + _files(res))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_gradcam(self) -> None:
        self.app.open_gradcam(self.selected)
