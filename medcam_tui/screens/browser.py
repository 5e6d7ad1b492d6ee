"""Finished models: test metrics in a table; the train × test matrix of their external validations
(read in a thread worker); for the selected one, its test ROC (read from predictions.csv in a thread
worker), its training curves, config and files. `space` marks models, `p` pins the baseline among them,
`C` compares the marked side by side; `/` filters the rows by job id, a header click (or `o`) sorts."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static
from textual_plotext import PlotextPlot

from medcam_core.formatting import estimate, number
from medcam_core.outputs.external import CrossDatasetMatrix, cell_text, cross_dataset_matrix
from medcam_core.outputs.job_folder import JobFolder, read_predictions
from medcam_core.outputs.pictures import RocCurve, roc_of
from medcam_core.outputs.results import JobResults, load_job_results
from medcam_core.safe_text import printable
from medcam_tui.screens.compare import CompareScreen
from medcam_tui.screens.model_info import model_info
from medcam_tui.widgets.table_tools import FilterPrompt, SortOrder, SortValue, matches

COLUMNS = ("mark", "model", "AUROC [95% CI]", "acc", "sens", "spec", "n test", "epochs")
LABELS = {c: c for c in COLUMNS} | {"mark": "cmp"}
MARKED, BASELINE = "●", "◆ base"
TITLE = "[b]Finished models[/b] — test split metrics (threshold chosen on validation)"


def _sort_values(job_id: str, res: JobResults) -> dict[str, SortValue]:
    """What each column sorts by: the numbers, not their text."""
    test, n = res.test, res.test.get("n", {})
    epochs = res.metrics.get("training", {}).get("epochs_run")
    return {
        "model": job_id,
        "AUROC [95% CI]": test.get("auroc"),
        "acc": test.get("accuracy"),
        "sens": test.get("sensitivity"),
        "spec": test.get("specificity"),
        "n test": float(n.get("positive", 0) + n.get("negative", 0)) if n else None,
        "epochs": float(epochs) if isinstance(epochs, int) else None,
    }


def fill_matrix(table: DataTable, matrix: CrossDatasetMatrix) -> None:
    """Rows: models; columns: datasets scored; `*` marks a model's own test split."""
    table.border_title = "AUROC by test dataset (* own test split; others: external validation)"
    table.add_column("model", key="model")
    for dataset in matrix.datasets:
        table.add_column(Text(printable(dataset)), key=dataset)
    for model in matrix.models:
        cells = [matrix.cells.get((model, d)) for d in matrix.datasets]
        shown = [cell_text(c, compact=True) + (" *" if c is not None and c.own else "") for c in cells]
        table.add_row(Text(printable(model)), *shown, key=model)
    table.add_class("shown")


class ModelBrowser(Screen[None]):
    class GradCAMRequested(Message):
        """The user asked for the Grad-CAM of a model: the app decides what opens (a screen, or why not)."""

        def __init__(self, job_id: str | None) -> None:
            super().__init__()
            self.job_id = job_id

    DEFAULT_CSS = """
    ModelBrowser #models-side { width: 1fr; }
    ModelBrowser #models { height: auto; max-height: 50%; }
    ModelBrowser #matrix { height: auto; max-height: 30%; display: none; }
    ModelBrowser #matrix.shown { display: block; }
    """
    BINDINGS = [
        Binding("escape,b", "close", "Back", id="browser-back", tooltip="Back to the queue"),
        Binding("g", "gradcam", "Grad-CAM", id="browser-gradcam", tooltip="Grad-CAM of the selected model"),
        Binding("space", "mark", "Mark", id="browser-mark", tooltip="Mark or unmark the selected model for comparison"),
        Binding(
            "p",
            "pin",
            "Pin baseline",
            id="browser-pin",
            tooltip="Mark the selected model as the baseline of the comparison",
        ),
        Binding(
            "C",
            "compare",
            "Compare",
            id="browser-compare",
            tooltip="Compare the marked models side by side: curves, ROC, metrics with paired p-values, config diff",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="browser-filter",
            key_display="/",
            tooltip="Show only the models whose id holds a pattern",
        ),
        Binding(
            "o",
            "sort_next",
            "Sort",
            id="browser-sort",
            show=False,
            tooltip="Sort by the next column (or click a header)",
        ),
    ]

    def __init__(self, folders: list[tuple[str, Path]]) -> None:
        super().__init__()
        self.folders = dict(folders)
        self.results: dict[str, JobResults] = {}
        self.rocs: dict[str, RocCurve | str] = {}  # per job: its test ROC, or why there is none
        self.marked: list[str] = []  # in the order marked: the comparison's column order
        self.baseline: str | None = None
        self.pattern = ""
        self.order = SortOrder("")  # "": the queue's order
        self.sort_values: dict[str, dict[str, SortValue]] = {}
        self.loaded = False  # every folder read (in a worker) and its row shown

    def compose(self) -> ComposeResult:
        yield Label(TITLE + " · space marks models to compare", id="browser-title")
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
        for column in COLUMNS:
            table.add_column(LABELS[column], key=column)
        table.loading = bool(self.folders)
        self.load_results(dict(self.folders))
        self.load_matrix(list(self.folders.values()))
        if not self.folders:
            self.query_one("#model-info", Static).update("No finished model yet.")
            self.query_one("#plot-roc", PlotextPlot).plt.title("ROC: no finished model yet")

    @work(thread=True, exclusive=True, group="browser-results", exit_on_error=False)
    def load_results(self, folders: dict[str, Path]) -> None:
        """Off the UI thread: each model folder's metrics, history and config (a disk may be slow)."""
        results = {job_id: load_job_results(folder) for job_id, folder in folders.items()}
        self.app.call_from_thread(self._results_loaded, results)

    def _results_loaded(self, results: dict[str, JobResults]) -> None:
        if not self.is_attached:
            return
        self.results = results
        self.sort_values = {job_id: _sort_values(job_id, res) for job_id, res in results.items()}
        self.query_one("#models", DataTable).loading = False
        self._fill_rows()
        self.loaded = True

    def _row(self, job_id: str) -> tuple:
        res = self.results[job_id]
        test = res.test
        n = test.get("n", {})
        training = res.metrics.get("training", {})
        epochs = f"{training.get('epochs_run', '?')}/{training.get('epochs_planned', '?')}"
        epochs = "imported" if res.imported is not None else epochs
        return (
            self._mark(job_id),
            Text(printable(job_id)),  # an imported model's id holds its file name: never markup
            estimate(test.get("auroc"), test.get("ci", {}).get("auroc")),
            number(test.get("accuracy")),
            number(test.get("sensitivity")),
            number(test.get("specificity")),
            f"{n.get('positive', '?')}+/{n.get('negative', '?')}−",
            epochs,
        )

    def _mark(self, job_id: str) -> str:
        return BASELINE if job_id == self.baseline else MARKED if job_id in self.marked else ""

    def _fill_rows(self) -> None:
        """The rows the filter keeps, in the chosen order; the cursor stays on its model when shown."""
        table = self.query_one("#models", DataTable)
        selected = self.selected
        table.clear()
        for job_id in self.folders:
            if job_id in self.results and matches(self.pattern, job_id):
                table.add_row(*self._row(job_id), key=job_id)
        self._sort(selected)

    def _sort(self, selected: str | None) -> None:
        table = self.query_one("#models", DataTable)
        column = self.order.column
        ids = {printable(job): job for job in self.results}  # the model cell shows the id as plain text
        if column == "mark":  # the baseline, then the marked in the order marked
            order = {job: float(i) for i, job in enumerate(self.marked)}
            rank = lambda job: order.get(job) if job != self.baseline else -1.0  # noqa: E731
            key = lambda cell: self.order.key(rank(ids[str(cell)]))  # noqa: E731
        else:
            key = lambda cell: self.order.key(self.sort_values[ids[str(cell)]][column])  # noqa: E731
        if column:
            table.sort("model", key=key, reverse=self.order.reverse)
        if selected is not None and selected in {k.value for k in table.rows}:
            table.move_cursor(row=table.get_row_index(selected))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        if event.data_table.id == "models":
            self.sort_by(str(event.column_key.value))

    def sort_by(self, column: str) -> None:
        self.order.toggle(column)
        table = self.query_one("#models", DataTable)
        self.order.show(table, LABELS)
        self._sort(self.selected)

    def action_sort_next(self) -> None:
        following = COLUMNS.index(self.order.column) + 1 if self.order.column else 0
        self.sort_by(COLUMNS[following % len(COLUMNS)])

    def set_filter(self, pattern: str) -> None:
        self.pattern = pattern
        self._fill_rows()

    def action_filter(self) -> None:
        self.app.push_screen(FilterPrompt(self.pattern, self.set_filter))

    def _show_marks(self) -> None:
        table = self.query_one("#models", DataTable)
        shown = {k.value for k in table.rows}
        for job_id in self.folders:
            if job_id in shown:
                table.update_cell(job_id, "mark", self._mark(job_id), update_width=True)
        count = f"{len(self.marked)} marked" if self.marked else "space marks models to compare"
        base = f", baseline {escape(printable(self.baseline))}" if self.baseline else ""
        self.query_one("#browser-title", Label).update(f"{TITLE} · {count}{base} (C compares)")

    def action_mark(self) -> None:
        job_id = self.selected
        if job_id is None:
            return
        if job_id in self.marked:
            self.marked.remove(job_id)
            if self.baseline == job_id:
                self.baseline = None
        else:
            self.marked.append(job_id)
        self._show_marks()

    def action_pin(self) -> None:
        job_id = self.selected
        if job_id is None:
            return
        if job_id not in self.marked:
            self.marked.append(job_id)
        self.baseline = job_id
        self._show_marks()

    def action_compare(self) -> None:
        if len(self.marked) < 2:
            self.notify("mark at least two models with space to compare them", severity="warning")
            return
        baseline = self.baseline or self.marked[0]
        self.app.push_screen(CompareScreen([(job, self.folders[job]) for job in self.marked], baseline))

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
        if matrix and self.is_attached:
            fill_matrix(self.query_one("#matrix", DataTable), matrix)

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
        self.query_one("#model-info", Static).update(model_info(res))

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

    def action_close(self) -> None:
        self.dismiss(None)

    def action_gradcam(self) -> None:
        self.post_message(self.GradCAMRequested(self.selected))
