"""The on-disk layout of one finished job, written in a hidden work folder and renamed when whole.

```
densenet121_<dataset>_<preset>_models/
  models/   model.keras · model.h5 · model.weights.h5 · best_checkpoint.weights.h5
  configs/  job_config.json   (import.json instead, in <output>/imported/<model file stem>/)
  results/  metrics.json · history.csv · history.json · predictions.csv · curves.png
            roc.png · pr.png · calibration.png   (test split)
            external/<dataset>/  metrics.json · predictions.csv · roc.png · pr.png · calibration.png
  gradcam/
  README.md
```

`JobFolder` is the one place those names are spelled: everything else asks it for a path.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from medcam_core.serialize import write_atomic

PARTIAL_DIR = ".partial"  # under the output root: jobs in progress, each renamed into place when whole
SCRATCH_DIR = ".scratch"  # decoded images and frozen features, in files unlinked as soon as opened
BACKUP_DIR = ".backup"  # Keras BackupAndRestore state inside a job's work folder; removed before commit
JOB_MARKER = "job.json"  # inside a work folder: the job spec it was made for
FOLDER_PREFIX, FOLDER_SUFFIX = "densenet121_", "_models"
FOLDER_GLOB = f"{FOLDER_PREFIX}*{FOLDER_SUFFIX}"  # what every committed job folder's name matches
IMPORTED_DIR = "imported"  # under the output root: one folder per model file brought in by `evaluate`
COMPARISONS_CSV = "comparisons.csv"  # under the output root: paired tests between the presets of a dataset
COMPARISONS_JSON = "comparisons.json"
PREDICTION_COLUMNS = ["split", "path", "patient", "label", "probability"]


class ScoredFiles:
    """The files of one scored split, where a job's own test split and an external validation share
    their names (`METRICS`, `PREDICTIONS`, `ROC`, `PR`, `CALIBRATION`, relative to `root`)."""

    root: Path
    METRICS: ClassVar[str]
    PREDICTIONS: ClassVar[str]
    ROC: ClassVar[str]
    PR: ClassVar[str]
    CALIBRATION: ClassVar[str]

    @property
    def metrics_file(self) -> Path:
        return self.root / self.METRICS

    @property
    def predictions_file(self) -> Path:
        return self.root / self.PREDICTIONS

    @property
    def roc_file(self) -> Path:
        return self.root / self.ROC

    @property
    def pr_file(self) -> Path:
        return self.root / self.PR

    @property
    def calibration_file(self) -> Path:
        return self.root / self.CALIBRATION


@dataclass(frozen=True)
class JobFolder(ScoredFiles):
    """A job folder (committed, or its work folder under `.partial/`) and every path inside it.

    The class attributes are the paths relative to the folder, as messages and the model README
    name them (`JobFolder.MODEL` is "models/model.keras"); the properties are those paths under `root`.
    """

    root: Path

    MODELS: ClassVar[str] = "models"
    CONFIGS: ClassVar[str] = "configs"
    RESULTS: ClassVar[str] = "results"
    GRADCAM: ClassVar[str] = "gradcam"
    MODEL: ClassVar[str] = f"{MODELS}/model.keras"  # a job counts as finished only while its folder holds this
    MODEL_H5: ClassVar[str] = f"{MODELS}/model.h5"
    WEIGHTS: ClassVar[str] = f"{MODELS}/model.weights.h5"
    CHECKPOINT: ClassVar[str] = f"{MODELS}/best_checkpoint.weights.h5"
    CONFIG: ClassVar[str] = f"{CONFIGS}/job_config.json"
    IMPORT: ClassVar[str] = f"{CONFIGS}/import.json"  # an imported model's folder: where the model file came from
    METRICS: ClassVar[str] = f"{RESULTS}/metrics.json"
    HISTORY_CSV: ClassVar[str] = f"{RESULTS}/history.csv"
    HISTORY: ClassVar[str] = f"{RESULTS}/history.json"
    PREDICTIONS: ClassVar[str] = f"{RESULTS}/predictions.csv"
    CURVES: ClassVar[str] = f"{RESULTS}/curves.png"
    ROC: ClassVar[str] = f"{RESULTS}/roc.png"
    PR: ClassVar[str] = f"{RESULTS}/pr.png"
    CALIBRATION: ClassVar[str] = f"{RESULTS}/calibration.png"
    EXTERNAL: ClassVar[str] = f"{RESULTS}/external"  # one ExternalFolder per dataset the model was validated on
    README: ClassVar[str] = "README.md"
    BACKUP: ClassVar[str] = BACKUP_DIR
    REPEATS: ClassVar[str] = ".repeats"  # the other seeds' work folders of a job with `repeats`
    MARKER: ClassVar[str] = JOB_MARKER

    @classmethod
    def committed(cls, output: Path, name: str) -> JobFolder:
        """The finished job folder `name` under the output root."""
        return cls(Path(output) / name)

    @classmethod
    def partial(cls, output: Path, name: str) -> JobFolder:
        """The hidden work folder of job folder `name` while its job runs: `<output>/.partial/<name>`."""
        return cls(Path(output) / PARTIAL_DIR / name)

    def __fspath__(self) -> str:
        return os.fspath(self.root)

    @property
    def name(self) -> str:
        return self.root.name

    # -- folders
    @property
    def models_dir(self) -> Path:
        return self.root / self.MODELS

    @property
    def configs_dir(self) -> Path:
        return self.root / self.CONFIGS

    @property
    def results_dir(self) -> Path:
        return self.root / self.RESULTS

    @property
    def gradcam_dir(self) -> Path:
        return self.root / self.GRADCAM

    @property
    def backup_dir(self) -> Path:
        """Keras' BackupAndRestore state of a work folder: lets an interrupted fit resume; never committed."""
        return self.root / self.BACKUP

    @property
    def staged_checkpoint_file(self) -> Path:
        """Where Keras writes the best checkpoint before it is renamed over `checkpoint_file` whole."""
        return self.backup_dir / "checkpoint.staging.weights.h5"

    @property
    def repeats_dir(self) -> Path:
        """The work folders of a job's other seeds (`repeats`); never committed."""
        return self.root / self.REPEATS

    def drop_work_state(self) -> None:
        """What only an unfinished job needs (training backup, other seeds), removed before commit."""
        for folder in (self.backup_dir, self.repeats_dir):
            shutil.rmtree(folder, ignore_errors=True)

    # -- files
    @property
    def model_file(self) -> Path:
        return self.root / self.MODEL

    @property
    def h5_model_file(self) -> Path:
        return self.root / self.MODEL_H5

    @property
    def weights_file(self) -> Path:
        return self.root / self.WEIGHTS

    @property
    def checkpoint_file(self) -> Path:
        return self.root / self.CHECKPOINT

    @property
    def config_file(self) -> Path:
        return self.root / self.CONFIG

    @property
    def import_file(self) -> Path:
        return self.root / self.IMPORT

    @property
    def history_csv_file(self) -> Path:
        return self.root / self.HISTORY_CSV

    @property
    def history_file(self) -> Path:
        return self.root / self.HISTORY

    @property
    def curves_file(self) -> Path:
        return self.root / self.CURVES

    @property
    def readme_file(self) -> Path:
        return self.root / self.README

    @property
    def marker_file(self) -> Path:
        return self.root / self.MARKER

    @property
    def external_dir(self) -> Path:
        return self.root / self.EXTERNAL

    def external(self, dataset: str) -> ExternalFolder:
        """Where the validation of this job's model on another dataset `dataset` lies."""
        return ExternalFolder(self.external_dir / dataset)

    def externals(self) -> list[ExternalFolder]:
        """The external validations written so far, by dataset name."""
        if not self.external_dir.is_dir():
            return []
        folders = (ExternalFolder(p) for p in sorted(self.external_dir.iterdir()))
        return [f for f in folders if f.metrics_file.is_file()]

    def has_model(self) -> bool:
        """Whether the job is finished: its folder holds its model."""
        return self.model_file.is_file()

    def make_dirs(self) -> None:
        """The four sub-folders, made if missing."""
        for folder in (self.models_dir, self.configs_dir, self.results_dir, self.gradcam_dir):
            folder.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class ExternalFolder(ScoredFiles):
    """`<job>/results/external/<dataset>/`: a model scored on a dataset it was not trained on, laid out
    like a job's own test results so the same pictures and readers serve both."""

    root: Path

    METRICS: ClassVar[str] = "metrics.json"
    PREDICTIONS: ClassVar[str] = "predictions.csv"
    ROC: ClassVar[str] = "roc.png"
    PR: ClassVar[str] = "pr.png"
    CALIBRATION: ClassVar[str] = "calibration.png"

    @property
    def dataset(self) -> str:
        return self.root.name

    @property
    def results_dir(self) -> Path:
        return self.root


def model_folders(output: Path) -> list[Path]:
    """Every model folder under an output root: the queue's finished jobs, then the imported models."""
    output = Path(output)
    imported = output / IMPORTED_DIR
    extra = sorted(p for p in imported.iterdir() if p.is_dir()) if imported.is_dir() else []
    return sorted(output.glob(FOLDER_GLOB)) + extra


def job_id_of(folder_name: str) -> str:
    """The job id a job folder's name carries (`densenet121_<id>_models` → `<id>`)."""
    return folder_name.removeprefix(FOLDER_PREFIX).removesuffix(FOLDER_SUFFIX)


def open_work(output: Path, folder: str, job_spec: str) -> tuple[JobFolder, bool]:
    """The hidden folder of a job in progress, and whether it is resumed.

    An interrupted job's folder is kept when it was made for the same job spec (its training backup
    lets fit continue from the last completed epoch); anything else there is wiped. Nothing outside
    this folder is touched until commit.
    """
    work = JobFolder.partial(output, folder)
    marker = work.marker_file
    if marker.is_file() and marker.read_text(encoding="utf-8") == job_spec:
        return work, True
    if work.root.exists():
        shutil.rmtree(work.root)
    work.root.mkdir(parents=True)
    write_atomic(marker, job_spec)
    return work, False


def commit(output: Path, work: JobFolder, folder: str) -> Path:
    """Rename the whole work folder into place; an older folder of that name is kept aside."""
    final = JobFolder.committed(output, folder).root
    if final.exists():
        final.rename(Path(output) / f"{folder}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(work, final)
    return final


def write_predictions(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=PREDICTION_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "probability": f"{row['probability']:.8f}"})
    write_atomic(path, buf.getvalue())


def read_predictions(path: Path) -> list[dict[str, Any]]:
    """The rows `write_predictions` wrote, label as int and probability as float.

    OSError when the file cannot be read; ValueError when a column is missing or a value is not a number.
    """
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(PREDICTION_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{Path(path).name}: no column {', '.join(sorted(missing))}")
        return [{**row, "label": int(row["label"]), "probability": float(row["probability"])} for row in reader]


def write_curves(path: Path, history: dict[str, list[float | None]], title: str) -> None:
    """Train-vs-validation loss, accuracy and AUC per epoch (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [m for m in ("loss", "accuracy", "auc") if m in history]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], panels, strict=True):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            values = history.get(key)
            if values:
                xs = [i + 1 for i, v in enumerate(values) if v is not None]
                ax.plot(
                    xs,
                    [v for v in values if v is not None],
                    style,
                    marker="o",
                    ms=3,
                    label="validation" if key.startswith("val_") else "train",
                )
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
