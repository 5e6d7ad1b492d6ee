"""`medcam-tui evaluate`: validate a finished job, or a model this tool did not train, on another
dataset — every image of it (or its test split), with the metrics, intervals and pictures of a job's
own test split, at the threshold frozen on the model's own validation split.

A job's validation lands in `<job>/results/external/<dataset>/`; a model file's in
`<output>/imported/<file stem>/results/external/<dataset>/`, beside `configs/import.json` saying where
it came from, so the model browser and the report list it as an imported model.
"""

from __future__ import annotations

import hashlib
import json
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from medcam_core.config import DatasetSpec, EvaluationSpec
from medcam_core.formatting import estimate, number
from medcam_core.inference.options import Options
from medcam_core.outputs.job_folder import IMPORTED_DIR, ExternalFolder, JobFolder
from medcam_core.safe_text import printable
from medcam_core.serialize import write_json_atomic
from medcam_tui.commands import error, output_root, resolve_config, setup_logging
from medcam_tui.data_command import folder_spec
from medcam_tui.exit_codes import EXIT_CONFIG, EXIT_OK

SEED = 42


@dataclass(frozen=True)
class EvaluateRequest:
    model: Path  # a job folder or a .keras / .h5 file
    dataset: DatasetSpec
    split: str  # evaluate.external.EvalSplit value
    options: Options
    output: Path  # where an imported model's folder goes
    evaluation: EvaluationSpec = EvaluationSpec()


def imported_folder(output: Path, model_file: Path, digest: str) -> JobFolder:
    """`<output>/imported/<stem>`: one folder per model file, named so the browser can list it; another
    file of the same name (a different sha256) gets `<stem>-<first 8 hex digits>`, never its folder."""
    folder = JobFolder(Path(output) / IMPORTED_DIR / model_file.stem)
    try:
        recorded = json.loads(folder.import_file.read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded in (None, digest):
        return folder
    return JobFolder(folder.root.with_name(f"{model_file.stem}-{digest[:8]}"))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evaluate_command(request: EvaluateRequest) -> int:
    """0 once the validation is written; a MedcamError (bad model, unreadable dataset) is one line, exit 2."""
    err = Console(stderr=True)
    job_model = request.model.is_dir()
    setup_logging(request.model.resolve().parent if job_model else request.output)
    from medcam_core.data.load import inspect_dataset
    from medcam_core.evaluate.external import EXTERNAL_SPLIT, EvalSplit, FrozenThreshold, score_dataset
    from medcam_core.inference.classifier import Classifier, Origin
    from medcam_core.outputs.external import write_external

    classifier = Classifier.open(request.model, request.options)
    err.print(printable(classifier.describe()), highlight=False)
    spec, size = request.dataset, classifier.image_size
    with _bar(err) as bar:
        task = bar.add_task(f"decoding {printable(spec.name)}", total=None)
        data = inspect_dataset(spec, size, SEED, lambda done, total: bar.update(task, completed=done, total=total))
        bar.update(task, description=f"scoring {printable(spec.name)}", completed=0)
        imported = classifier.origin is Origin.IMPORTED
        model_name = str(request.model.resolve()) if imported else _job_id(request.model) or request.model.name
        metrics, rows = score_dataset(
            classifier,
            data,
            EvalSplit(request.split),
            FrozenThreshold(classifier.threshold.value, classifier.threshold.describe()),
            request.evaluation,
            SEED,
            model_name,
            imported,
            lambda done, total: bar.update(task, completed=done, total=total),
        )
    digest = sha256(request.model) if imported else ""
    folder = imported_folder(request.output, request.model, digest) if imported else JobFolder(request.model)
    if imported:
        write_json_atomic(
            folder.import_file,
            {
                "source": str(request.model.resolve()),
                "sha256": digest,
                "preprocess": classifier.preprocess.value,
                "positive_index": classifier.head.positive_index,
                "image_size": size,
            },
        )
    target: ExternalFolder = folder.external(spec.name)
    title = f"{Path(model_name).name} on {spec.label}"
    write_external(target, metrics, rows, title, EXTERNAL_SPLIT)
    test = metrics["test"]
    ci = test.get("ci", {})
    n = test["n"]
    print(
        f"{printable(spec.name)}: {n['positive']} positive / {n['negative']} negative image(s) scored "
        f"({metrics['skipped']} skipped); AUROC {estimate(test.get('auroc'), ci.get('auroc'))}, "
        f"sensitivity {estimate(test.get('sensitivity'), ci.get('sensitivity'))}, "
        f"specificity {estimate(test.get('specificity'), ci.get('specificity'))} at threshold "
        f"{number(classifier.threshold.value)}"
    )
    print(f"written to {printable(target.root)}")
    return EXIT_OK


def _job_id(folder: Path) -> str | None:
    try:
        return str(json.loads(JobFolder(folder).metrics_file.read_text(encoding="utf-8"))["job"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def evaluate_request(args: Namespace, dataset: dict[str, Any], options: Options) -> int:
    """The request the command line describes: a dataset of the queue file (`--dataset`) or a folder."""
    config_path = getattr(args, "config", None)
    if args.dataset is not None:
        if args.path is not None or args.recipe is not None or any(v is not None for v in dataset.values()):
            error("give either --dataset NAME (a dataset of the queue file) or PATH with its recipe options")
            return EXIT_CONFIG
        config = resolve_config(config_path, None)
        specs = {d.name: d for d in config.datasets}
        if args.dataset not in specs:
            error(f"{config.source}: no dataset named {args.dataset!r} (there are: {', '.join(specs)})")
            return EXIT_CONFIG
        spec = specs[args.dataset]
    elif args.path is None:
        error("give the dataset: PATH (with --recipe and its options) or --dataset NAME")
        return EXIT_CONFIG
    else:
        spec = folder_spec(args.path, args.recipe or "folder", dataset, command="evaluate", name=args.name)
    output = args.evaluate_output or output_root(None, config_path)
    return evaluate_command(EvaluateRequest(args.model, spec, args.split, options, output))


def _bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
