"""Soak test: run a small 5 × 2 queue, kill -9 it at random instants, restart, repeat; then finish.

    python -m benchmarks.soak [--trials 20] [--seed 0] [--keep DIR]

After every kill it checks that every file on disk is whole; at the end that all jobs are done,
none was trained to completion twice, and the last run exits 0. Prints trials, recoveries,
corrupt files and retrained jobs; exit status 1 when any of the last two is not 0.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

QUEUE = """
[queue]
output = "out"
[presets.standard]
image_size = 64
weights = "none"
monitor = "val_auc"
learning_rate = 1e-3
bn_momentum = 0.9
[presets.intensive]
image_size = 64
weights = "none"
monitor = "val_auc"
learning_rate = 1e-3
bn_momentum = 0.9
[evaluation]
bootstrap = 200
"""
JOB_FILES = (
    "models/model.keras",
    "models/model.h5",
    "models/model.weights.h5",
    "configs/job_config.json",
    "results/metrics.json",
    "results/history.json",
    "results/history.csv",
    "results/predictions.csv",
    "results/curves.png",
    "README.md",
)


def write_queue(root: Path) -> Path:
    from medcam_core.data.synthetic import PATIENT_RE, TASKS, generate

    data = generate(root / "data", per_class=40, size=64)
    text = QUEUE
    for name, task in TASKS.items():
        text += (
            f'[[datasets]]\nname = "{name}"\npath = "{data / name}"\npositive = ["{task.positive}"]\n'
            f"patient_id = '{PATIENT_RE}'\nmax_per_class = 40\n"
        )
    toml = root / "medcam.toml"
    toml.write_text(text)
    return toml


def corrupt_files(out: Path) -> list[str]:
    """Every file the queue promises to keep whole, checked; returns the broken ones."""
    import h5py

    broken = []
    for path in [out / "densenet121_training_progress.json", *out.glob("densenet121_*_models/**/*.json")]:
        if path.exists():
            try:
                json.loads(path.read_text())
            except ValueError:
                broken.append(str(path))
    for folder in out.glob("densenet121_*_models"):
        for rel in JOB_FILES:
            if not (folder / rel).is_file() or (folder / rel).stat().st_size == 0:
                broken.append(f"{folder / rel} (missing in a committed job folder)")
        keras_file = folder / "models" / "model.keras"
        if keras_file.is_file() and (not zipfile.is_zipfile(keras_file) or zipfile.ZipFile(keras_file).testzip()):
            broken.append(str(keras_file))
        for h5 in (folder / "models").glob("*.h5"):
            try:
                h5py.File(h5, "r").close()
            except OSError:
                broken.append(str(h5))
    log = out / "events.jsonl"
    if log.is_file():
        lines = log.read_text().split("\n")[:-1]  # a torn last line is allowed; anything before it is not
        for line in lines:
            try:
                json.loads(line)
            except ValueError:
                broken.append(f"{log}: a torn line before the end")
                break
    return broken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="work in this folder (kept) instead of a temporary one")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="medcam-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    toml = write_queue(root)
    out = root / "out"
    command = [sys.executable, "-m", "medcam_tui.cli", "run", "--headless", "--config", str(toml)]
    rng = random.Random(args.seed)
    recoveries, corrupt = 0, []
    for trial in range(1, args.trials + 1):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 25.0))
        if proc.poll() is None:
            proc.kill()
            recoveries += 1
        proc.wait()
        found = corrupt_files(out)
        corrupt += found
        done = (
            sum(
                j["status"] == "done"
                for j in json.loads((out / "densenet121_training_progress.json").read_text())["jobs"]
            )
            if (out / "densenet121_training_progress.json").is_file()
            else 0
        )
        print(f"trial {trial:>2}: killed={proc.returncode < 0} done {done}/10 corrupt {len(found)}", flush=True)
    final = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    corrupt += corrupt_files(out)
    finished = collections.Counter(
        json.loads(line)["job_id"]
        for line in (out / "events.jsonl").read_text().splitlines()
        if '"type": "job_finished"' in line
    )
    progress = json.loads((out / "densenet121_training_progress.json").read_text())["jobs"]
    retrained = sorted(job for job, n in finished.items() if n > 1)
    done = sum(j["status"] == "done" for j in progress)
    print(
        f"trials {args.trials}, recoveries {recoveries}, corrupt files {len(corrupt)}, "
        f"retrained jobs {len(retrained)}, done {done}/{len(progress)}, final exit {final.returncode}"
    )
    for item in corrupt + retrained:
        print("  ", item)
    return 0 if not corrupt and not retrained and done == len(progress) and final.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
