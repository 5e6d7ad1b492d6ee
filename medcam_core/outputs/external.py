"""External validations on disk: writing one, reading them back, and the train × test matrix that
the report and the model browser show (rows: models, columns: datasets, the diagonal being each
model's own test split)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from medcam_core.formatting import estimate
from medcam_core.outputs.job_folder import IMPORTED_DIR, ExternalFolder, JobFolder, job_id_of, write_predictions
from medcam_core.outputs.metrics_schema import ExternalMetrics
from medcam_core.outputs.pictures import write_pictures
from medcam_core.serialize import write_json_atomic


def write_external(
    folder: ExternalFolder, metrics: ExternalMetrics, rows: list[dict[str, Any]], title: str, split: str
) -> None:
    """Predictions, pictures, then metrics.json last: a folder counts as written once that file exists."""
    folder.root.mkdir(parents=True, exist_ok=True)
    write_predictions(folder.predictions_file, rows)
    write_pictures(folder, rows, metrics, title, split=split)
    write_json_atomic(folder.metrics_file, metrics)


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object, or {} when the file cannot be read as one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_external(folder: ExternalFolder) -> ExternalMetrics | None:
    """metrics.json of one external validation, or None when it cannot be read."""
    data = _read_json(folder.metrics_file)
    return cast(ExternalMetrics, data) if data else None


@dataclass(frozen=True)
class Cell:
    """One model on one dataset: AUROC with its interval, and how many images it rests on."""

    auroc: float | None
    bounds: tuple[float, float] | None
    images: int
    own: bool  # the model's own test split (the diagonal), not an external validation


@dataclass
class CrossDatasetMatrix:
    models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    imported: dict[str, str] = field(default_factory=dict)  # an imported model's row → its source file

    def __bool__(self) -> bool:
        return any(not cell.own for cell in self.cells.values())


def _cell(test: dict[str, Any], own: bool) -> Cell:
    bounds = test.get("ci", {}).get("auroc")
    n = test.get("n", {})
    return Cell(
        test.get("auroc"),
        (float(bounds[0]), float(bounds[1])) if bounds else None,
        int(n.get("positive", 0)) + int(n.get("negative", 0)),
        own,
    )


def cross_dataset_matrix(folders: Sequence[Path]) -> CrossDatasetMatrix:
    """The matrix of the model folders under an output root (`model_folders`): a job's own test split
    from its metrics.json and config, the rest from its external validations; an imported model
    (`imported/<name>`) has external validations only."""
    matrix = CrossDatasetMatrix()
    for root in folders:
        job = JobFolder(root)
        model = job_id_of(job.name)
        if job.import_file.is_file():
            model = f"{IMPORTED_DIR}/{job.name}"
            matrix.imported[model] = str(_read_json(job.import_file).get("source", "?"))
        try:
            metrics = json.loads(job.metrics_file.read_text(encoding="utf-8"))
            config = json.loads(job.config_file.read_text(encoding="utf-8"))
            model = str(metrics["job"])
            matrix.cells[(model, str(config["dataset"]["name"]))] = _cell(metrics.get("test", {}), own=True)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        for folder in job.externals():
            external = read_external(folder)
            if external is not None:
                matrix.cells[(model, folder.dataset)] = _cell(cast(dict[str, Any], external.get("test", {})), own=False)
        if any(m == model for m, _ in matrix.cells):
            matrix.models.append(model)
    matrix.datasets = sorted({d for _, d in matrix.cells})
    return matrix


def cell_text(cell: Cell | None, compact: bool = False) -> str:
    """`0.912 [0.850–0.960] · n 40` (`compact`: `0.912 [0.85–0.96] n40`, for a terminal column), or ""
    for a model never scored on that dataset."""
    if cell is None:
        return ""
    if compact:
        return f"{estimate(cell.auroc, cell.bounds, bound_digits=2)} n{cell.images}"
    return f"{estimate(cell.auroc, cell.bounds)} · n {cell.images}"


def section(matrix: CrossDatasetMatrix, escape: Callable[[object], str] = str) -> list[str]:
    """The report's external-validation section (Markdown lines); nothing when no model was validated elsewhere."""
    if not matrix:
        return []
    lines = [
        "## Does a model hold up on other datasets (external validation)",
        "",
        "Rows: models; columns: the dataset scored. Each cell is the test AUROC with its interval and the "
        "number of images. **Bold** cells are a model's own held-out test split; the others score another "
        "dataset (every image, unless its `metrics.json` says `split: test`) at the threshold frozen on the "
        "model's own validation split. A drop off the "
        "diagonal is what the change of site or population costs; these are research figures, not evidence of "
        "clinical readiness. Each external validation is in `<job>/" + JobFolder.EXTERNAL + "/<dataset>/`.",
        "",
        "| model | " + " | ".join(escape(d) for d in matrix.datasets) + " |",
        "|---|" + "---|" * len(matrix.datasets),
    ]
    for model in matrix.models:
        cells = []
        for dataset in matrix.datasets:
            cell = matrix.cells.get((model, dataset))
            text = cell_text(cell)
            cells.append(f"**{text}**" if cell is not None and cell.own else text)
        lines.append(f"| {escape(model)} | " + " | ".join(cells) + " |")
    if matrix.imported:
        lines += ["", "Imported models (model files this tool did not train, scored by `medcam-tui evaluate`):", ""]
        lines += [f"- {escape(model)}: {escape(source)}" for model, source in matrix.imported.items()]
    return lines + [""]
