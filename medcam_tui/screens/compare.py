"""Marked models side by side: their test ROCs and training curves overlaid (a colour per model), a
metrics table with each model's value and interval and its paired difference from the baseline, and the
config keys that differ. Everything is read and tested in a thread worker (`compare_models`)."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot

from medcam_core.formatting import number
from medcam_core.outputs.model_comparison import ModelComparison, compare_models
from medcam_core.outputs.pictures import RocCurve
from medcam_core.safe_text import printable

# (plotext colour, Rich colour): the same hue in the plots and the table; a model keeps its place's colour
PALETTE = (
    ("cyan", "cyan"),
    ("orange", "dark_orange"),
    ("green", "green"),
    ("magenta", "magenta"),
    ("yellow", "yellow"),
    ("blue", "dodger_blue1"),
    ("red", "red"),
    ("white", "white"),
)


def colour(index: int) -> tuple[str, str]:
    return PALETTE[index % len(PALETTE)]


class CompareScreen(Screen[None]):
    DEFAULT_CSS = """
    CompareScreen #compare-plots { height: 1fr; min-height: 12; }
    CompareScreen #compare-plots PlotextPlot { width: 1fr; }
    CompareScreen #compare-metrics { height: auto; max-height: 12; }
    CompareScreen #compare-bottom { height: auto; max-height: 9; }
    CompareScreen #compare-bottom VerticalScroll { width: 1fr; height: auto; max-height: 9; padding: 0 1; }
    CompareScreen #compare-notes { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,b", "close", "Back", id="compare-back", tooltip="Back to the model browser"),
        Binding("m", "next_metric", "Next curve", id="compare-metric", tooltip="Draw the next metric's curves"),
    ]

    def __init__(self, folders: list[tuple[str, Path]], baseline: str) -> None:
        super().__init__()
        self.folders, self.baseline = folders, baseline
        self.comparison: ModelComparison | None = None
        self.metric_index = 0

    def compose(self) -> ComposeResult:
        yield Label(f"[b]Comparing {len(self.folders)} models[/b] — reading their folders…", id="compare-title")
        with Vertical(id="compare-body"):
            with Horizontal(id="compare-plots"):
                yield PlotextPlot(id="compare-roc")
                yield PlotextPlot(id="compare-train")
                yield PlotextPlot(id="compare-val")
            yield DataTable(id="compare-metrics", cursor_type="none", zebra_stripes=True)
            with Horizontal(id="compare-bottom"):
                with VerticalScroll():
                    yield Static("", id="compare-notes")
                with VerticalScroll():
                    yield Static("", id="compare-config")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#compare-body").loading = True
        self.compute(self.folders, self.baseline)

    @work(thread=True, exit_on_error=False, group="compare", exclusive=True)
    def compute(self, folders: list[tuple[str, Path]], baseline: str) -> ModelComparison:
        """Off the UI thread: read every folder, compute the ROCs and the paired tests."""
        return compare_models(folders, baseline)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "compare" or not self.is_attached:
            return
        if event.state == WorkerState.SUCCESS:
            self.show(event.worker.result)
        elif event.state == WorkerState.ERROR:
            self.query_one("#compare-body").loading = False
            message = f"could not compare: {printable(str(event.worker.error))}"
            self.query_one("#compare-title", Label).update(escape(message))
            self.notify(message, severity="error", markup=False)

    # -- drawing --------------------------------------------------------------------------------

    def show(self, comparison: ModelComparison) -> None:
        self.comparison = comparison
        self.query_one("#compare-body").loading = False
        title = Text("Comparing ", style="bold")
        for i, m in enumerate(comparison.models):
            title.append(f" ■ {printable(m.job)}", style=colour(i)[1])
            title.append(" (baseline)" if m.job == comparison.baseline else "")
        self.query_one("#compare-title", Label).update(title)
        self._draw_rocs()
        self._draw_curves()
        self._fill_table()
        notes = comparison.notes() + ["p: paired tests on the same test images, one per comparison (not adjusted)"]
        self.query_one("#compare-notes", Static).update(Text("\n".join(printable(n) for n in notes)))
        self.query_one("#compare-config", Static).update(self._config_table())

    def _legend(self, index: int) -> tuple[str, str]:
        assert self.comparison is not None
        return colour(index)[0], printable(self.comparison.models[index].job)

    def _draw_rocs(self) -> None:
        assert self.comparison is not None
        widget = self.query_one("#compare-roc", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        plt.title("ROC (test)")
        plt.xlabel("1 − specificity")
        plt.plot([0, 1], [0, 1], color="gray", marker="braille")
        for i, model in enumerate(self.comparison.models):
            hue, name = self._legend(i)
            roc = model.roc
            if isinstance(roc, RocCurve) and roc.auroc is not None:
                plt.plot(roc.fpr, roc.tpr, marker="braille", color=hue, label=f"{name} {number(roc.auroc)}")
                if roc.point is not None:
                    plt.scatter([roc.point[0]], [roc.point[1]], marker="●", color=hue)
        widget.refresh()

    @property
    def metric(self) -> str | None:
        metrics = self.comparison.curve_metrics() if self.comparison else []
        return metrics[self.metric_index % len(metrics)] if metrics else None

    def _draw_curves(self) -> None:
        assert self.comparison is not None
        metric = self.metric
        for plot_id, prefix, split in (("#compare-train", "", "train"), ("#compare-val", "val_", "validation")):
            widget = self.query_one(plot_id, PlotextPlot)
            plt = widget.plt
            plt.clear_data()
            plt.title(f"{metric or 'no history'} — {split} (m: next metric)")
            plt.xlabel("epoch")
            epochs = max(
                (len(m.results.history.get(f"{prefix}{metric}") or []) for m in self.comparison.models), default=0
            )
            if 1 < epochs <= 12:  # whole epochs on the axis while they fit
                plt.xticks(list(range(1, epochs + 1)))
            for i, model in enumerate(self.comparison.models):
                values = model.results.history.get(f"{prefix}{metric}") or [] if metric else []
                points = [(x, v) for x, v in enumerate(values, start=1) if v is not None]
                if points:
                    hue, _ = self._legend(i)
                    plt.plot([x for x, _ in points], [v for _, v in points], marker="braille", color=hue)
            widget.refresh()

    def _fill_table(self) -> None:
        """A row per test metric; a column per model, each non-baseline one followed by its Δ and p."""
        assert self.comparison is not None
        comparison = self.comparison
        table = self.query_one("#compare-metrics", DataTable)
        table.clear(columns=True)
        table.add_column("test metric", key="metric")
        for i, model in enumerate(comparison.models):
            baseline = model.job == comparison.baseline
            label = printable(model.job) + (" (baseline)" if baseline else "")
            table.add_column(Text(label, style=f"bold {colour(i)[1]}"), key=f"value:{model.job}")
            if not baseline:
                table.add_column(Text("Δ vs baseline, p", style=colour(i)[1]), key=f"delta:{model.job}")
        others = [m.job for m in comparison.models if m.job != comparison.baseline]
        for label, values, deltas in comparison.rows():
            delta = dict(zip(others, deltas, strict=True))
            cells = [c for m, v in zip(comparison.models, values, strict=True) for c in (v, delta.get(m.job))]
            table.add_row(label, *(c for c in cells if c is not None), key=label)

    def _config_table(self) -> Table | Text:
        """The keys whose values differ, each model's value in its colour."""
        assert self.comparison is not None
        if not self.comparison.config_diff:
            return Text("job_config.json: no key differs")
        table = Table(
            title="job_config.json: the keys that differ",
            title_justify="left",
            box=None,
            padding=(0, 1),
            show_header=False,
        )
        table.add_column("key", style="bold", no_wrap=True)
        for i, _ in enumerate(self.comparison.models):
            table.add_column(style=colour(i)[1], overflow="fold")
        for difference in self.comparison.config_diff:
            table.add_row(printable(difference.key), *(printable(v) for v in difference.values))
        return table

    # -- actions --------------------------------------------------------------------------------

    def action_next_metric(self) -> None:
        if self.comparison is not None:
            self.metric_index += 1
            self._draw_curves()

    def action_close(self) -> None:
        self.dismiss(None)
