"""The running job: epoch progress with batch count, images/s and ETA; live curves; learning rate."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.widgets import Label, ProgressBar, Sparkline, Static

from medcam_core.formatting import MISSING, duration, number, stage_label
from medcam_core.vocabulary import Stage
from medcam_tui.view_model import CURVES, QueueView


class JobPanel(Vertical):
    def compose(self) -> ComposeResult:
        yield Label("no job running", id="job-title")
        yield ProgressBar(total=1, show_eta=False, id="job-progress")
        yield Label("", id="job-rate")
        with Grid(id="curves"):
            for name in CURVES:
                with Vertical(classes="curve"):
                    yield Label(name, id=f"label-{name}")
                    yield Sparkline([], id=f"spark-{name}")
        yield Static("", id="job-lr")

    def refresh_from(self, view: QueueView) -> None:
        c = view.current
        title = self.query_one("#job-title", Label)
        bar = self.query_one("#job-progress", ProgressBar)
        rate = self.query_one("#job-rate", Label)
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
            rate.update(
                f"epoch {c.epoch}/{c.epochs} · batch {c.batch}/{c.batches} · "
                f"{c.images_per_s or 0:.0f} img/s · epoch ETA {duration(c.epoch_eta)} · "
                f"loss {number(c.batch_loss)}"
            )
        else:
            rate.update(f"{c.batch}/{c.batches}" if c.batches else "")
        for name in CURVES:
            curve = c.curves[name]
            best = f"best {number(curve.best)} @{curve.best_epoch}" if curve.best is not None else f"best {MISSING}"
            self.query_one(f"#label-{name}", Label).update(f"{name} {number(curve.current)} · {best}")
            self.query_one(f"#spark-{name}", Sparkline).data = list(curve.values)
        lr = f"learning rate {c.learning_rate:.2e}" if c.learning_rate else ""
        self.query_one("#job-lr", Static).update(lr)
