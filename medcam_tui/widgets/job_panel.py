"""The running job: epoch progress with batch count, images/s, ETA and learning rate; live loss and
accuracy charts (train and validation overlaid, the best epoch marked).

The charts are redrawn only when an epoch adds a point or the panel turns to another job, not on
each batch: batch progress only moves the bar and the rate line.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar
from textual_plotext import PlotextPlot

from medcam_core.formatting import MISSING, duration, number, stage_label
from medcam_core.vocabulary import Stage
from medcam_tui.view_model import CurrentJob, Curve, JobView, QueueView

CHARTS = {"loss": ("loss", "val_loss"), "accuracy": ("accuracy", "val_accuracy")}
COLOURS = {"train": "cyan", "val": "orange"}  # plotext colours; the legend labels use the same
LEGEND = {"train": "cyan", "val": "#ffa500"}
BEST = "magenta"
EVERY_EPOCH_UP_TO = 12  # x ticks: every epoch while they fit, else about six


def epoch_axis(curve: Curve) -> list[int]:
    """The epoch of each kept value. A curve keeps finite values only, so its best point, whose epoch
    it knows, anchors the others (exact unless a NaN epoch came before the best)."""
    values = list(curve.values)
    offset = 0
    if curve.best is not None and curve.best_epoch is not None and curve.best in values:
        offset = curve.best_epoch - 1 - values.index(curve.best)
    return [offset + i + 1 for i in range(len(values))]


def epoch_ticks(first: int, last: int) -> list[int]:
    if last - first < EVERY_EPOCH_UP_TO:
        return list(range(first, last + 1))
    step = round((last - first) / 5)
    ticks = list(range(first, last + 1, step))
    if last - ticks[-1] >= step / 2:  # the last epoch is always labelled, never crowded
        ticks.append(last)
    else:
        ticks[-1] = last
    return ticks


class CurveChart(Vertical):
    """One metric: train and validation overlaid, with their legends (current and best values)."""

    DEFAULT_CSS = """
    CurveChart { width: 1fr; height: 1fr; }
    CurveChart PlotextPlot { height: 1fr; }
    CurveChart Label { width: 100%; height: 1; }
    """

    def __init__(self, metric: str) -> None:
        super().__init__(id=f"chart-{metric}")
        self.metric = metric
        self.train, self.val = CHARTS[metric]

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id=f"plot-{self.metric}")
        yield Label(self.train, id=f"label-{self.train}")
        yield Label(self.val, id=f"label-{self.val}")

    def show(self, current: CurrentJob, job: JobView | None) -> None:
        """Legends and the plot, with the job's best epoch (by its preset's monitor) marked by a line."""
        curves = current.curves
        for role, name in (("train", self.train), ("val", self.val)):
            curve = curves.get(name)
            if curve is None or curve.current is None:
                text = f"[{LEGEND[role]}]━[/] {name} {MISSING}"
            else:
                best = f"best {number(curve.best)} @{curve.best_epoch}" if curve.best is not None else f"best {MISSING}"
                text = f"[{LEGEND[role]}]━[/] {name} {number(curve.current)} · {best}"
            self.query_one(f"#label-{name}", Label).update(text)
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        series = [(role, curves[name]) for role, name in (("train", self.train), ("val", self.val))]
        series = [(role, curve) for role, curve in series if curve.values]
        if not series:
            plt.title(f"{self.metric}: no epoch finished yet")
            plot.refresh()
            return
        xs_all: list[int] = []
        for role, curve in series:
            xs = epoch_axis(curve)
            xs_all += xs
            plt.plot(xs, list(curve.values), marker="braille", color=COLOURS[role])
        first, last = min(xs_all), max(xs_all)
        best = job.best_epoch if job else None
        if best is not None and first <= best <= last:
            plt.vline(best, BEST)
            plt.title(f"{self.metric} · best epoch {best} by {job.monitor}")
        else:
            plt.title(self.metric)
        plt.xlim(first - 0.5, last + 0.5)
        ticks = epoch_ticks(first, last)
        plt.xticks(ticks, [str(t) for t in ticks])
        plot.refresh()


class JobPanel(Vertical):
    DEFAULT_CSS = """
    JobPanel #job-charts { height: 1fr; }
    JobPanel CurveChart { margin-right: 1; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._drawn: tuple | None = None  # what the charts show: redraw only when it changes

    def compose(self) -> ComposeResult:
        yield Label("no job running", id="job-title")
        yield ProgressBar(total=1, show_eta=False, id="job-progress")
        yield Label("", id="job-rate")
        with Horizontal(id="job-charts"):
            for metric in CHARTS:
                yield CurveChart(metric)

    def refresh_from(self, view: QueueView) -> None:
        c = view.current
        title = self.query_one("#job-title", Label)
        bar = self.query_one("#job-progress", ProgressBar)
        rate = self.query_one("#job-rate", Label)
        self._charts(view)
        if c is None:
            title.update("no job running" if not view.finished else "queue finished")
            bar.update(total=1, progress=0)
            rate.update("")
            return
        job = view.jobs.get(c.job_id)
        stage = stage_label(c.stage)
        path = f" · {c.training_path}" if c.training_path else ""
        others = f" (1 of {len(view.live)} running)" if len(view.live) > 1 else ""
        title.update(f"[b]{job.dataset if job else c.job_id} × {job.preset if job else ''}[/b]{others} · {stage}{path}")
        bar.update(total=max(1, c.batches), progress=c.batch)
        if c.stage == Stage.FIT:
            lr = f" · lr {c.learning_rate:.1e}" if c.learning_rate else ""
            rate.update(
                f"epoch {c.epoch}/{c.epochs} · batch {c.batch}/{c.batches} · "
                f"{c.images_per_s or 0:.0f} img/s · epoch ETA {duration(c.epoch_eta)} · "
                f"loss {number(c.batch_loss)}{lr}"
            )
        else:
            rate.update(f"{c.batch}/{c.batches}" if c.batches else "")

    def _charts(self, view: QueueView) -> None:
        """A job that ended keeps its charts until another one draws."""
        c = view.current
        if c is None:
            return
        job = view.jobs.get(c.job_id)
        points = tuple((len(curve.values), curve.current) for curve in c.curves.values())
        drawn = (c.job_id, job.best_epoch if job else None, points)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        for chart in self.query(CurveChart):
            chart.show(c, job)
