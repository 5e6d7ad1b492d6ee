"""`medcam-tui` command line. Imports nothing heavy at module level: `--help` must stay instant."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from medcam_core import __version__
from medcam_core.config import DEFAULT_CONFIG
from medcam_core.data.recipe_catalog import RECIPES
from medcam_core.errors import MedcamError
from medcam_core.inference.options import DEFAULT_SIZE, Options, Preprocess
from medcam_tui.exit_codes import EXIT_CONFIG


def _queue_options(parser: argparse.ArgumentParser, sub: bool = False) -> None:
    """The same options before or after `run`; the subcommand's never overwrite the main ones."""
    unset = {"default": argparse.SUPPRESS} if sub else {}
    parser.add_argument(
        "--config",
        type=Path,
        help=f"queue file (default: ./{DEFAULT_CONFIG} if present, else the built-in demo)",
        **unset,
    )
    parser.add_argument("--output", type=Path, help="output root (default: the config's, or ./new)", **unset)
    parser.add_argument(
        "--paused", action="store_true", help="open the UI without starting the queue (p starts it)", **unset
    )
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        help="where jobs run: this machine (default) or Ray (pip install 'medcam-tui[ray]')",
        **unset,
    )
    parser.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: a local Ray)", **unset)
    parser.add_argument("--parallel", type=int, metavar="N", help="jobs at once (default 1)", **unset)


def _preview_size(text: str) -> int:
    from medcam_core.data.preview import MAX_SIZE, MIN_SIZE

    if not text.strip().isdigit() or not MIN_SIZE <= int(text) <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"expected an integer from {MIN_SIZE} to {MAX_SIZE} (px), got {text!r}")
    return int(text)


def _dataset_options(parser: argparse.ArgumentParser) -> None:
    """A dataset folder described on the command line, as a [[datasets]] entry would (data check, evaluate)."""
    parser.add_argument("--recipe", choices=list(RECIPES), help="how PATH is laid out (default: folder)")
    parser.add_argument("--positive", nargs="+", metavar="CLASS", help="classes that are label 1")
    parser.add_argument("--negative", nargs="+", metavar="CLASS", help="classes that are label 0 (default: the rest)")
    parser.add_argument("--table", metavar="CSV", help="csv recipe: the table, relative to PATH")
    parser.add_argument("--body-parts", nargs="+", metavar="PART", help="mura recipe: e.g. forearm humerus")
    parser.add_argument(
        "--uncertain",
        metavar="{ignore,ones,zeros}",
        help="chexpert, mimic-cxr-jpg: a -1 of a chosen finding: leave the image out (default), positive, negative",
    )
    parser.add_argument(
        "--views", nargs="+", metavar="VIEW", help="chexpert, mimic-cxr-jpg: frontal (default), lateral or all"
    )
    parser.add_argument("--max-per-class", type=int, help="images per class and split to read (default 500)")


def _dataset_values(args: argparse.Namespace) -> dict[str, Any]:
    """The options `_dataset_options` read, None where not given, keyed as config keys."""
    keys = ("positive", "negative", "table", "body_parts", "max_per_class", "uncertain", "views")
    return {key: getattr(args, key) for key in keys}


def _model_options(parser: argparse.ArgumentParser) -> None:
    """How to use a model: all a bare .keras / .h5 file cannot say about itself (overrides for a job)."""
    parser.add_argument(
        "--preprocess",
        choices=[p.value for p in Preprocess],
        default=Preprocess.DENSENET.value,
        help="how 8-bit gray pixels become the model's input: densenet (ImageNet mean/std, how this tool "
        "trains; default), scale (/255) or none (0-255)",
    )
    parser.add_argument(
        "--positive-index",
        type=int,
        choices=(0, 1),
        default=1,
        help="which output is the positive class: of a Dense(2, softmax) head (default 1); 0 with a "
        "Dense(1, sigmoid) head makes class 0 the positive one",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        help="decision threshold on P(positive) (default: a job's validation-chosen one; 0.5 for a model file)",
    )
    parser.add_argument("--size", type=int, help=f"image side for a model that takes any size (default {DEFAULT_SIZE})")


def _options(args: argparse.Namespace) -> Options:
    return Options(args.threshold, Preprocess(args.preprocess), args.positive_index, args.size)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medcam-tui",
        description="Train, watch and explain a queue of DenseNet121 X-ray classifiers. With no command: "
        "open the terminal UI on ./medcam.toml, or on the built-in demo queue, and start it.",
    )
    parser.add_argument("--version", action="version", version=f"medcam-tui {__version__}")
    _queue_options(parser)
    parser.add_argument(
        "--attach", type=Path, metavar="DIR", help="watch, read-only, the queue another process runs in output DIR"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the training queue (the UI, or --headless)",
        description="Run the queue in ./medcam.toml (or --config), or the built-in synthetic demo when there is "
        "none. Exit status: 0 all jobs done, 1 some failed, 2 bad config, 3 internal error, 130 interrupted.",
    )
    run.add_argument("--headless", action="store_true", help="no UI: progress on the console, for servers and CI")
    _queue_options(run, sub=True)

    report = sub.add_parser(
        "report",
        help="write STATUS_REPORT.md and results.csv from the results on disk",
        description="Write the Markdown status report (and results.csv) from the files in the output root. "
        "Works while a queue runs, after it finished, or after it died.",
    )
    report.add_argument("--output", type=Path, dest="report_output", help="output root (default: as for run)")
    report.add_argument("--to", type=Path, help="report file (default: OUTPUT/STATUS_REPORT.md)")

    gradcam = sub.add_parser(
        "gradcam",
        help="export Grad-CAM heatmaps of a finished model, or of any Keras model file, as PNG",
        description="Grad-CAM of a finished job or of a .keras / .h5 model this tool did not train: overlay, "
        "heatmap and captioned panel PNGs at each image's original resolution, and the raw map (.npy). With no "
        "images, a few true/false positives/negatives of a job's own test split.",
    )
    gradcam.add_argument(
        "model_dir", type=Path, metavar="MODEL", help="a densenet121_<dataset>_<preset>_models folder or a model file"
    )
    gradcam.add_argument("images", nargs="*", type=Path, help="images to explain (default: a job's test examples)")
    gradcam.add_argument(
        "--layer", help="4-D layer to explain, also inside a nested backbone (default: the last one, relu)"
    )
    gradcam.add_argument(
        "--target",
        choices=("predicted", "positive", "negative"),
        default="predicted",
        help="class the map explains (default: the predicted class at the model's threshold)",
    )
    gradcam.add_argument("--out", type=Path, help="output folder (default: MODEL/gradcam, or ./gradcam for a file)")
    _model_options(gradcam)

    predict = sub.add_parser(
        "predict",
        help="score images with a finished job or any Keras model file into a CSV",
        description="Score images, folders (recursively) or both with a finished job or a .keras / .h5 model: "
        "one CSV row per readable image (path, probability, predicted, threshold); files that cannot be read "
        "are listed on stderr with their reason. Images stream in batches, so memory stays flat. Exit status: "
        "0 when at least one image was scored, 2 when none could be or the model cannot be used.",
    )
    predict.add_argument("model", type=Path, metavar="MODEL", help="a job folder or a .keras / .h5 model file")
    predict.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image files or folders")
    predict.add_argument("--csv", type=Path, metavar="FILE", help="write the rows here (default: stdout)")
    predict.add_argument("--skipped", type=Path, metavar="FILE", help="also list unreadable files here, as CSV")
    predict.add_argument("--gradcam", type=Path, metavar="DIR", help="write a Grad-CAM panel per image under DIR")
    predict.add_argument("--layer", help="with --gradcam: the 4-D layer to explain (default: the last one)")
    predict.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per batch (default 32)")
    _model_options(predict)

    evaluate = sub.add_parser(
        "evaluate",
        help="validate a job, or any Keras model file, on another dataset (external validation)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Score every image of another dataset (or --split test) with a finished job or a .keras / .h5\n"
        "model, at the threshold frozen on the job's own validation split: the metrics, intervals and\n"
        "pictures of a job's test split, into JOB/results/external/NAME/ (a model file: into\n"
        "OUTPUT/imported/<file stem>/). The report and the model browser show the train × test matrix.\n"
        "Exit status: 0 written, 2 when the model or the dataset cannot be used.",
        epilog="recipes:\n" + "\n".join(f"  {name:<18}{info.summary}" for name, info in RECIPES.items()),
    )
    evaluate.add_argument("model", type=Path, metavar="MODEL", help="a job folder or a .keras / .h5 model file")
    evaluate.add_argument("path", nargs="?", type=Path, metavar="PATH", help="the dataset folder, as downloaded")
    evaluate.add_argument("--dataset", metavar="NAME", help="a dataset of the queue file instead of PATH")
    evaluate.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="queue file (with --dataset)")
    evaluate.add_argument("--name", help="the dataset's name in the results (default: PATH's folder name)")
    evaluate.add_argument(
        "--split", choices=("all", "test"), default="all", help="every image (default) or the dataset's test split"
    )
    evaluate.add_argument("--output", type=Path, dest="evaluate_output", help="output root for a model file's results")
    _dataset_options(evaluate)
    _model_options(evaluate)

    data = sub.add_parser("data", help="inspect datasets without training (data check)")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = data_sub.add_parser(
        "check",
        help="count images, patients, skipped files, duplicates and leaks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check every dataset of the queue (./medcam.toml or --config), or one folder as\n"
        "downloaded (PATH --recipe NAME), without training: images per class and split, patients per\n"
        "split, files skipped and why, duplicate images (by content), and patients or images on both\n"
        "sides of a split. Exit status: 0 clean, 1 warnings, 2 errors (training would refuse it).",
        epilog="recipes:\n" + "\n".join(f"  {name:<18}{info.summary}" for name, info in RECIPES.items()),
    )
    check.add_argument("path", nargs="?", type=Path, help="a dataset folder to check on its own")
    check.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="queue file (when no PATH)")
    _dataset_options(check)
    check.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    check.add_argument(
        "--preview",
        type=Path,
        metavar="DIR",
        help="write up to 16 images per split and class, decoded as training sees them, and a contact sheet, to DIR",
    )
    check.add_argument("--size", type=_preview_size, metavar="N", help="--preview image size in px (default 224)")

    init = sub.add_parser("init", help="write a commented medcam.toml for the plan's 5 × 2 queue")
    init.add_argument("path", nargs="?", type=Path, default=Path(DEFAULT_CONFIG), help="where to write it")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """One line and exit status 2 for input that cannot be used, 3 for a bug; never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except MedcamError as exc:
        from medcam_tui.commands import error

        error(str(exc))
        return EXIT_CONFIG
    except Exception as exc:
        from medcam_tui.commands import internal_error

        return internal_error(exc)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "init":
        from medcam_tui.commands import init_command

        return init_command(args.path, args.force)
    if args.command == "data":
        from medcam_tui.data_command import data_check_command

        options = _dataset_values(args)
        if args.path is None and any(v is not None for v in (args.recipe, *options.values())):
            build_parser().error("--recipe, the class options and --max-per-class describe a PATH; give one")
        if args.size is not None and args.preview is None:
            build_parser().error("--size is the --preview image size; give --preview DIR too")
        return data_check_command(
            args.path, args.recipe, options, args.config, args.json, preview=args.preview, preview_size=args.size
        )
    if args.command == "gradcam":
        from medcam_tui.commands import gradcam_command

        return gradcam_command(args.model_dir, args.images, args.layer, args.target, args.out, _options(args))
    if args.command == "predict":
        from medcam_tui.predict_command import PredictRequest, predict_command

        if args.batch_size < 1:
            build_parser().error("--batch-size must be at least 1")
        return predict_command(
            PredictRequest(
                args.model,
                args.inputs,
                _options(args),
                args.csv,
                args.skipped,
                args.gradcam,
                args.layer,
                args.batch_size,
            )
        )
    if args.command == "evaluate":
        from medcam_tui.evaluate_command import evaluate_request

        return evaluate_request(args, _dataset_values(args), _options(args))
    if args.command == "report":
        from medcam_tui.commands import report_command

        return report_command(args.report_output or args.output, args.config, args.to)
    overrides = {
        key: value
        for key, value in (("executor", args.executor), ("ray_address", args.address), ("parallel", args.parallel))
        if value is not None
    }
    if overrides.get("parallel", 1) < 1:
        build_parser().error("--parallel must be at least 1")
    if args.command == "run" and args.headless:
        from medcam_tui.commands import run_headless

        return run_headless(args.config, args.output, overrides)
    from medcam_tui.commands import attach_tui, run_tui

    if args.attach is not None:
        return attach_tui(args.attach)
    return run_tui(args.config, args.output, paused=args.paused, overrides=overrides)


if __name__ == "__main__":
    sys.exit(main())
