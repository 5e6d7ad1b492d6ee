"""`medcam-tui` command line. Imports nothing heavy at module level: `--help` must stay instant."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medcam_core import __version__

DEFAULT_CONFIG = "medcam.toml"
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medcam-tui",
        description="Train, watch and explain a queue of DenseNet121 X-ray classifiers.",
        epilog="With no command: open the terminal UI on ./medcam.toml, or on the built-in demo queue.",
    )
    parser.add_argument("--version", action="version", version=f"medcam-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the training queue",
        description="Run the queue in ./medcam.toml (or --config), or the built-in synthetic demo when "
        "there is none. Exit status: 0 all jobs done, 1 some failed, 2 bad config, 130 interrupted.",
    )
    run.add_argument(
        "--headless", action="store_true", help="no UI: progress on the console, for servers and CI"
    )
    run.add_argument(
        "--config", type=Path, help=f"queue file (default: ./{DEFAULT_CONFIG} if present, else the demo)"
    )
    run.add_argument("--output", type=Path, help="output root (default: the config's, or ./new)")

    init = sub.add_parser("init", help="write a commented medcam.toml for the plan's 5 × 2 queue")
    init.add_argument("path", nargs="?", type=Path, default=Path(DEFAULT_CONFIG), help="where to write it")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "init":
        from medcam_tui.commands import init_command

        return init_command(args.path, args.force)
    if args.command == "run" and args.headless:
        from medcam_tui.commands import run_headless

        return run_headless(args.config, args.output)
    print(
        "medcam-tui: the terminal UI is not available in this version; use `medcam-tui run --headless`.",
        file=sys.stderr,
    )
    return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
