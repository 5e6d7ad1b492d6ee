"""What each CLI command does; kept apart from argument parsing so `--help` imports none of it."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medcam_core.config import (
    DEFAULT_CONFIG,
    QueueConfig,
    check_output_folder,
    check_output_outside_datasets,
    load_config,
)
from medcam_core.config_template import TEMPLATE
from medcam_core.errors import ConfigError
from medcam_core.inference.options import Options
from medcam_core.jobqueue.state import PROGRESS_FILE
from medcam_core.outputs.job_folder import JobFolder
from medcam_core.safe_text import printable
from medcam_core.vocabulary import Status
from medcam_tui.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK

if TYPE_CHECKING:
    from medcam_core.inference.predict import Source

LOG_FILE = "medcam.log"
log = logging.getLogger("medcam")


def error(message: str) -> None:
    print(f"medcam-tui: error: {printable(message)}", file=sys.stderr)


def internal_error(exc: BaseException) -> int:
    """A bug, not the user's doing: the traceback goes to the log already set up, else to a file."""
    import tempfile

    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    if not files:
        files = [logging.FileHandler(Path(tempfile.gettempdir()) / LOG_FILE, encoding="utf-8")]
        logging.getLogger().addHandler(files[0])
    log.error("internal error", exc_info=exc)
    error(f"internal error ({type(exc).__name__}: {exc}); the traceback is in {files[0].baseFilename}")
    return EXIT_INTERNAL


class PrintableFormatter(logging.Formatter):
    """Log lines quote file names from datasets: `less medcam.log` must not run their escape sequences."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), keep_newlines=True)


def resolve_config(
    config_path: Path | None, output: Path | None, overrides: dict[str, Any] | None = None
) -> QueueConfig:
    """The explicit file, else ./medcam.toml, else the built-in demo (data generated on first use);
    `overrides` are queue settings given on the command line (executor, parallel, address)."""
    from dataclasses import replace

    if config_path is None and Path(DEFAULT_CONFIG).is_file():
        config_path = Path(DEFAULT_CONFIG)
    if output is not None:
        check_output_folder(output)
    if config_path is not None:
        config = load_config(config_path)
        if output:
            config = replace(config, output=output.resolve())
            check_output_outside_datasets(config)
    else:
        from medcam_core.data.demo import demo_config

        config = demo_config(output or Path("new"))
    return replace(config, **(overrides or {}))


def connect_executor(config: QueueConfig) -> None:
    """What runs jobs in other processes starts here, on the main thread, before the UI takes the terminal."""
    if config.executor == "ray":
        from medcam_core.jobqueue.executors import connect_ray

        connect_ray(config)
    elif config.parallel > 1:
        from medcam_core.jobqueue.executors import start_process_support

        start_process_support()


def init_command(path: Path, force: bool) -> int:
    if path.exists() and not force:
        error(f"{path} exists; pass --force to overwrite it")
        return EXIT_CONFIG
    path.write_text(TEMPLATE, encoding="utf-8")
    print(f"wrote {path}: edit the dataset paths, then `medcam-tui run --headless --config {path}`")
    return EXIT_OK


def setup_logging(output: Path, name: str = LOG_FILE) -> Path:
    """Everything diagnostic (tracebacks, warnings, TensorFlow's native lines) goes to one file."""
    import tempfile

    from medcam_tui.native_stderr import route_native_stderr

    log_path = output / name
    try:
        output.mkdir(parents=True, exist_ok=True)
        log_path.open("a").close()
    except OSError:  # a read-only output folder (attached to someone else's run)
        log_path = Path(tempfile.gettempdir()) / name
    route_native_stderr(log_path)
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    return log_path


def run_headless(config_path: Path | None, output: Path | None, overrides: dict[str, Any] | None = None) -> int:
    try:
        config = resolve_config(config_path, output, overrides)
        connect_executor(config)
    except ConfigError as exc:
        error(str(exc))
        return EXIT_CONFIG
    from rich.console import Console

    from medcam_tui.console import ConsoleSink

    log_path = setup_logging(config.output)
    made = _locked_runner(config, [ConsoleSink(Console(file=sys.stdout))])
    if made is None:
        return EXIT_CONFIG
    runner, events, lock = made
    control = runner.control
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["counts"] = runner.run()
        except ConfigError as exc:
            outcome["config"] = exc
        except BaseException as exc:  # the log gets the traceback, the user one line
            log.exception("the queue stopped on an internal error")
            outcome["crash"] = exc

    def on_sigint(signum: int, frame: object) -> None:
        if control.quitting:
            print("\nmedcam-tui: stopped at once; the queue state on disk is whole.", file=sys.stderr)
            os._exit(EXIT_INTERRUPTED)
        control.quit()
        print("\nmedcam-tui: stopping after this batch (Ctrl+C again to exit at once)…", file=sys.stderr)

    worker = threading.Thread(target=work, name="medcam-queue")
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    finally:
        signal.signal(signal.SIGINT, previous)
        events.close()
        lock.release()
    if "config" in outcome:
        error(str(outcome["config"]))
        return EXIT_CONFIG
    if "crash" in outcome:
        error(f"internal error: {outcome['crash']!r}; the traceback is in {log_path}")
        return EXIT_INTERNAL
    if control.quitting:
        return EXIT_INTERRUPTED
    counts = outcome["counts"]
    if counts.get(Status.FAILED):
        print(f"some jobs failed; details in {config.output / PROGRESS_FILE} and {log_path}")
        return EXIT_FAILED
    return EXIT_OK


def _locked_runner(config: QueueConfig, sinks: list) -> tuple[Any, Any, Any] | None:
    """A runner writing the event log, once this process holds the output root's lock."""
    from medcam_core.jobqueue.control import QueueControl
    from medcam_core.jobqueue.event_log import EVENT_LOG, EventLog
    from medcam_core.jobqueue.lock import OutputLock, OutputLocked
    from medcam_core.jobqueue.runner import Runner

    lock = OutputLock(config.output)
    try:
        lock.acquire()
    except OutputLocked as exc:
        error(str(exc))
        return None
    events = EventLog(config.output / EVENT_LOG)
    return Runner(config, [events, *sinks], QueueControl()), events, lock


def run_tui(
    config_path: Path | None, output: Path | None, paused: bool, overrides: dict[str, Any] | None = None
) -> int:
    """The Textual app on a live queue; TensorFlow loads later, inside the queue's worker."""
    try:
        config = resolve_config(config_path, output, overrides)
        connect_executor(config)
    except ConfigError as exc:
        error(str(exc))
        return EXIT_CONFIG
    setup_logging(config.output)
    from medcam_tui.app import MedcamApp

    app = MedcamApp(config=config, start_paused=paused)
    made = _locked_runner(config, [app.sink])
    if made is None:
        return EXIT_CONFIG
    app.runner, events, lock = made
    try:
        app.run()
    finally:
        events.close()
        lock.release()
    return app.return_code or app.exit_code


def attach_tui(folder: Path) -> int:
    """Follow another process's event log, read-only; nothing here takes the output lock."""
    from medcam_core.jobqueue.event_log import EVENT_LOG

    if not (folder / EVENT_LOG).is_file():
        error(f"no {EVENT_LOG} in {folder}; start a queue there first: medcam-tui run --headless --output {folder}")
        return EXIT_CONFIG
    setup_logging(folder, "medcam-attach.log")
    from medcam_tui.app import MedcamApp

    app = MedcamApp(attach=folder)
    app.run()
    return app.return_code or app.exit_code


def output_root(output: Path | None, config_path: Path | None) -> Path:
    """Where results live without generating anything: --output, the config's output, or ./new."""
    if output is not None:
        return output
    if config_path is None and Path(DEFAULT_CONFIG).is_file():
        config_path = Path(DEFAULT_CONFIG)
    return load_config(config_path).output if config_path is not None else Path("new")


def report_command(output: Path | None, config_path: Path | None, to: Path | None) -> int:
    from medcam_core.jobqueue.state import PROGRESS_FILE
    from medcam_core.outputs.report import write_report

    try:
        root = output_root(output, config_path)
    except ConfigError as exc:
        error(str(exc))
        return EXIT_CONFIG
    if not (root / PROGRESS_FILE).is_file():
        error(f"no {PROGRESS_FILE} in {root}: nothing has run there yet (use --output DIR)")
        return EXIT_CONFIG
    report, table = write_report(root, to)
    print(f"wrote {report} and {table}")
    return EXIT_OK


def gradcam_command(
    model_path: Path, images: list[Path], layer: str | None, target: str, out: Path | None, options: Options
) -> int:
    """Export heatmaps for chosen images, or for examples of a job's own test split.

    `model_path` is a job folder or a model file this tool did not train (then images must be named);
    an image that cannot be read is listed with its reason and the rest are explained.
    """
    import tempfile

    is_job = model_path.is_dir()
    if is_job and not JobFolder(model_path).model_file.is_file():
        error(
            f"{JobFolder(model_path).model_file} not found: MODEL must be a finished "
            "densenet121_<dataset>_<preset>_models folder or a .keras / .h5 file"
        )
        return EXIT_CONFIG
    if not is_job and not images:
        error(f"{model_path}: a model file has no test split to take examples from; name the images to explain")
        return EXIT_CONFIG
    missing = [str(p) for p in images if not p.is_file()]
    if missing:
        error(f"image(s) not found: {', '.join(missing)}")
        return EXIT_CONFIG
    setup_logging(model_path.resolve().parent if is_job else Path(tempfile.gettempdir()))
    from medcam_core.inference.classifier import Classifier
    from medcam_core.inference.predict import CamWriter, Scored, Source, score

    classifier = Classifier.open(model_path, options)  # MedcamError: one line, exit 2, from main
    sources = [Source(p) for p in images] or _test_examples(JobFolder(model_path), classifier.threshold.value)
    if sources is None:
        return EXIT_CONFIG
    target_dir = out or (JobFolder(model_path).gradcam_dir if is_job else Path("gradcam"))
    cams = CamWriter(classifier, target_dir, layer, target, len(sources))
    explained = 0
    for outcome in score(classifier, sources, cams=cams):
        if isinstance(outcome, Scored):
            explained += 1
            name, panel = printable(outcome.source.path.name), printable(outcome.panel)
            print(f"{name}: P(positive) {outcome.probability:.3f} → {panel}")
        else:
            print(f"skipped {printable(outcome.path)}: {outcome.reason}", file=sys.stderr)
    print(f"{explained} image(s) explained with layer {cams.cam.layer} into {target_dir}")
    return EXIT_OK if explained else EXIT_CONFIG


def _test_examples(job: JobFolder, threshold: float) -> list[Source] | None:
    """A few true/false positives/negatives of the job's test split, or None (said why) when unreadable."""
    import csv

    from medcam_core.explain.picking import pick_examples
    from medcam_core.inference.predict import Source

    try:
        with open(job.predictions_file, encoding="utf-8") as fh:
            items = pick_examples([r for r in csv.DictReader(fh) if r["split"] == "test"], threshold)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        error(f"{job.root} is damaged: {JobFolder.PREDICTIONS} is missing or unreadable ({exc})")
        return None
    return [Source(item.path, label=item.label) for item in items]
