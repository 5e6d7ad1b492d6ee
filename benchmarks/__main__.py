"""`python -m benchmarks [NAME ...] [--quick] [--json FILE]`: run, print ratios, optionally save them."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from pathlib import Path

NAMES = ["training", "augment", "queue", "monitoring", "input_pipeline", "memory", "gradcam", "gpu", "tui"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"which to run (default all): {', '.join(NAMES)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--json", type=Path, help="write {name: {ratio, goal, ...}} to this file")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(NAMES)}")
    print(f"machine: {platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()}")
    results = {}
    for name in args.names or NAMES:
        module = importlib.import_module(f"benchmarks.{name}")
        for result in module.run(quick=args.quick):
            print(result.line(), flush=True)
            results[result.name] = result.to_json()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
