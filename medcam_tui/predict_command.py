"""`medcam-tui predict`: score images with any trained binary classifier into a CSV.

The CSV goes to `--csv FILE` or stdout; everything else (which threshold decides and why, each file
that could not be read with its reason, the progress bar, the summary) goes to stderr, so stdout
can be piped. TensorFlow's native chatter goes to the log, as for every command.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from medcam_core.inference.options import Options
from medcam_core.inference.predict import COLUMNS, expand
from medcam_core.safe_text import printable
from medcam_tui.commands import error, setup_logging
from medcam_tui.exit_codes import EXIT_CONFIG, EXIT_OK

SKIPPED_COLUMNS = ("path", "reason")


@dataclass(frozen=True)
class PredictRequest:
    model: Path  # a job folder or a .keras / .h5 file
    inputs: list[Path]
    options: Options
    csv: Path | None = None  # None: stdout
    skipped: Path | None = None  # also write the unreadable files here, as CSV
    gradcam: Path | None = None  # Grad-CAM panels under this folder
    layer: str | None = None
    batch_size: int = 32


def log_folder(model: Path) -> Path:
    """A job's output root (its medcam.log), else the temp folder: no log is left beside someone's model file."""
    return model.resolve().parent if model.is_dir() else Path(tempfile.gettempdir())


def predict_command(request: PredictRequest) -> int:
    """0 when at least one image was scored, 2 when none could be or the model cannot be used."""
    sources, skipped = expand(request.inputs)
    if not sources:
        for item in skipped:
            note(f"skipped {printable(item.path)}: {item.reason}")
        error(f"nothing to score: none of the {len(request.inputs)} input(s) holds an image file")
        return EXIT_CONFIG
    setup_logging(log_folder(request.model))
    from medcam_core.inference.classifier import Classifier
    from medcam_core.inference.predict import CamWriter, Scored, score

    classifier = Classifier.open(request.model, request.options)  # MedcamError: one line, exit 2, from main
    cams = CamWriter(classifier, request.gradcam, request.layer, images=len(sources)) if request.gradcam else None
    note(printable(classifier.describe()))
    scored = 0
    with ExitStack() as stack:
        rows = csv.DictWriter(stack.enter_context(_open_csv(request.csv)), fieldnames=COLUMNS)
        rows.writeheader()
        bad = _skipped_writer(stack, request.skipped)
        bar = stack.enter_context(_progress(len(sources)))
        for item in skipped:
            _report_skip(bar, bad, item.path, item.reason)
        for outcome in score(classifier, sources, request.batch_size, cams):
            if isinstance(outcome, Scored):
                scored += 1
                rows.writerow(_safe_row(outcome.row(classifier.threshold.value), request.csv))
            else:
                _report_skip(bar, bad, outcome.path, outcome.reason)
            bar.advance()
    unreadable = len(sources) + len(skipped) - scored
    where = f" (listed in {request.skipped})" if request.skipped else ""
    note(f"{scored} image(s) scored, {unreadable} file(s) could not be read{where}")
    if cams is not None and scored:
        note(f"Grad-CAM panels (layer {cams.cam.layer}) in {request.gradcam}")
    if not scored:
        error("nothing could be scored: every input was unreadable")
        return EXIT_CONFIG
    return EXIT_OK


def note(line: str) -> None:
    print(line, file=sys.stderr)


def _safe_row(row: dict[str, str], csv_file: Path | None) -> dict[str, str]:
    """On a terminal a file name is shown, so its control characters are spelled out; in a file it stays as is."""
    if csv_file is None and sys.stdout.isatty():
        return {**row, "path": printable(row["path"])}
    return row


@contextmanager
def _open_csv(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(path, "w", encoding="utf-8", newline="") as fh:
        yield fh


def _skipped_writer(stack: ExitStack, path: Path | None) -> Any:
    if path is None:
        return None
    writer = csv.DictWriter(stack.enter_context(_open_csv(path)), fieldnames=SKIPPED_COLUMNS)
    writer.writeheader()
    return writer


def _report_skip(bar: _Bar, writer: Any, path: str, reason: str) -> None:
    bar.print(f"skipped {printable(path)}: {reason}")
    if writer is not None:
        writer.writerow({"path": path, "reason": reason})


class _Bar:
    """A rich progress bar on a terminal's stderr; plain lines (and no bar) anywhere else."""

    def __init__(self, total: int) -> None:
        self.progress: Any = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("scoring"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
            )
            self.task = self.progress.add_task("scoring", total=total)

    def advance(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)

    def print(self, line: str) -> None:
        if self.progress is not None:
            self.progress.console.print(line, markup=False, highlight=False)
        else:
            note(line)


@contextmanager
def _progress(total: int) -> Iterator[_Bar]:
    bar = _Bar(total)
    if bar.progress is None:
        yield bar
        return
    with bar.progress:
        yield bar
