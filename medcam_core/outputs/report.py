"""STATUS_REPORT.md (and a CSV of the same table), written only from the files on disk.

It keeps the seed report's structure — status, counts, one section per model grouped in
performance bands, failures, summary statistics, artifact locations, how to load and explain a
model — but every figure is a held-out test figure with its interval, bands are named by their
AUROC range, presets are compared by paired tests, and it says plainly none is validated for clinical use.
"""

from __future__ import annotations

import csv
import io
import os
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medcam_core.formatting import MISSING, NOT_AVAILABLE, doc_duration, doc_estimate, doc_number
from medcam_core.jobqueue.state import PROGRESS_FILE, ProgressDamaged, read_progress
from medcam_core.outputs import comparisons as compare
from medcam_core.outputs import external
from medcam_core.outputs.external import cross_dataset_matrix
from medcam_core.outputs.gradcam_lines import gradcam_lines
from medcam_core.outputs.job_folder import (
    COMPARISONS_CSV,
    COMPARISONS_JSON,
    FOLDER_GLOB,
    JobFolder,
    job_id_of,
    model_folders,
)
from medcam_core.outputs.results import JobResults, load_job_results
from medcam_core.outputs.seeds import seed_spread
from medcam_core.serialize import write_atomic
from medcam_core.vocabulary import Status

REPORT_FILE = "STATUS_REPORT.md"
CSV_FILE = "results.csv"
BANDS = [
    (0.9, 1.01, "AUROC ≥ 0.90"),
    (0.8, 0.9, "AUROC 0.80–0.90"),
    (0.7, 0.8, "AUROC 0.70–0.80"),
    (-1.0, 0.7, "AUROC < 0.70"),
]
RESEARCH_USE = (
    "These models were trained and evaluated for research. None of them has been validated for clinical "
    "use, and no figure here supports using one to make decisions about patients. Test splits are small; "
    "read every number with its 95 % confidence interval."
)
CI_COLUMNS = [
    f"{m}{part}" for m in ("auroc", "sensitivity", "specificity", "accuracy") for part in ("", "_ci_low", "_ci_high")
]
CSV_COLUMNS = [
    *["job", "dataset", "preset", "status", "stage", "error"],
    *CI_COLUMNS,
    *[
        "precision",
        "f1",
        "auprc",
        "brier",
        "threshold",
        "test_positive",
        "test_negative",
        "test_patients",
        "epochs_run",
        "best_epoch",
        "seconds",
    ],
]
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def md(text: object) -> str:
    """Escape Markdown so a name or an error message renders as the text it is."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def _alt(text: str) -> str:
    """Image alt text: shown as-is by renderers, so only brackets are taken out."""
    return re.sub(r"[\[\]]", "", text)


@dataclass
class JobRow:
    entry: dict[str, Any]
    results: JobResults | None

    @property
    def auroc(self) -> float | None:
        return self.results.test.get("auroc") if self.results else None


def collect(output: Path) -> tuple[dict[str, Any], list[JobRow], list[str]]:
    """The progress file and, for every finished job, its results folder; notes on what was not trusted.

    Without a readable progress file the committed job folders are the jobs, as the queue itself would
    rebuild them; a job counts as done only while its folder holds its model.
    """
    progress_path = output / PROGRESS_FILE
    progress: dict[str, Any] = {}
    notes: list[str] = []
    if progress_path.is_file():
        try:
            progress = read_progress(progress_path)
        except ProgressDamaged as exc:
            notes.append(f"{PROGRESS_FILE} is unreadable ({exc}); the jobs below were found in the job folders.")
    rows = []
    for entry in progress["jobs"] if progress else _entries_from_folders(output):
        folder = output / entry["folder"]
        if entry["status"] == Status.DONE and not JobFolder(folder).has_model():
            notes.append(
                f"{entry['id']} is marked done but its folder has no {JobFolder.MODEL}: it is counted as queued "
                "and trains again on the next run."
            )
            entry = {**entry, "status": Status.QUEUED}
        rows.append(JobRow(entry, load_job_results(folder) if entry["status"] == Status.DONE else None))
    return progress, rows, notes


def _entries_from_folders(output: Path) -> list[dict[str, Any]]:
    """Progress entries for the committed job folders (those with results), named as their metrics say."""
    entries = []
    for folder in sorted(output.glob(FOLDER_GLOB)):
        if not JobFolder(folder).metrics_file.is_file():
            continue
        job_id = job_id_of(folder.name)
        dataset, _, preset = job_id.rpartition("_")  # a guess when the metrics do not say
        entry = {"id": job_id, "dataset": dataset, "preset": preset, "status": Status.DONE, "folder": folder.name}
        metrics = load_job_results(folder).metrics
        names = {"id": metrics.get("job"), "dataset": metrics.get("dataset"), "preset": metrics.get("preset")}
        entries.append({**entry, **{k: v for k, v in names.items() if isinstance(v, str)}})
    return entries


def _status(rows: list[JobRow]) -> str:
    statuses = [r.entry["status"] for r in rows]
    if not statuses:
        return "NO JOBS YET"
    if Status.RUNNING in statuses:
        return "TRAINING IN PROGRESS"
    if Status.QUEUED in statuses:
        return "STOPPED WITH JOBS STILL QUEUED"
    if all(s == Status.FAILED for s in statuses):
        return "ALL JOBS FAILED"
    return "TRAINING COMPLETED" + (" WITH FAILURES" if Status.FAILED in statuses else "")


def _span(rows: list[JobRow]) -> tuple[float | None, float | None]:
    starts = [r.entry["started"] for r in rows if r.entry.get("started")]
    ends = [r.entry["finished"] for r in rows if r.entry.get("finished")]
    return (min(starts) if starts else None, max(ends) if ends else None)


def _when(ts: float | None) -> str:
    return NOT_AVAILABLE if ts is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _link(target: Path, base: Path) -> str:
    return os.path.relpath(target, base).replace(os.sep, "/")


def _model_section(row: JobRow, base: Path) -> list[str]:
    res = row.results
    assert res is not None
    test, m = res.test, res.metrics
    cis = test.get("ci", {})
    thr = m.get("threshold", {})
    training = m.get("training", {})
    n = test.get("n", {})
    cm = test.get("confusion_matrix", {})
    entry = row.entry
    lines = [
        f"#### {md(entry['dataset'])} — {md(entry['preset'])}",
        f"- **AUROC**: {doc_estimate(test.get('auroc'), cis.get('auroc'))} · AUPRC {doc_number(test.get('auprc'))} · "
        f"Brier {doc_number(test.get('brier'))}",
        f"- **Sensitivity**: {doc_estimate(test.get('sensitivity'), cis.get('sensitivity'))} · **Specificity**: "
        f"{doc_estimate(test.get('specificity'), cis.get('specificity'))}",
        f"- **Accuracy**: {doc_estimate(test.get('accuracy'), cis.get('accuracy'))} · Precision "
        f"{doc_number(test.get('precision'))} · F1 {doc_number(test.get('f1'))}",
        f"- **Threshold**: {doc_number(thr.get('value'))} ({md(thr.get('method', '?'))}, chosen on the "
        "validation split before the test split was scored)",
        f"- **Test set**: {n.get('positive', '?')} positive / {n.get('negative', '?')} negative images, "
        f"{test.get('patients', '?')} {m.get('bootstrap', {}).get('unit', 'patient')}s; confusion matrix "
        f"TN {cm.get('tn', '?')} · FP {cm.get('fp', '?')} · FN {cm.get('fn', '?')} · TP {cm.get('tp', '?')}",
        f"- **Epochs**: {training.get('epochs_run', '?')}/{training.get('epochs_planned', '?')} (best epoch "
        f"{training.get('best_epoch', '?')} by {md(training.get('monitor', '?'))}) · **Training time**: "
        f"{doc_duration(entry.get('seconds'))} · path: {md(training.get('training_path', '?'))}",
    ]
    lines += seed_spread(m)
    lines += gradcam_lines(m, md)
    job = JobFolder(res.folder)
    shown = ((job.curves_file, "training curves"), (job.roc_file, "test ROC"), (job.calibration_file, "calibration"))
    lines += [f"\n![{what} of {_alt(entry['id'])}]({_link(f, base)})" for f, what in shown if f.is_file()]
    panels = sorted(job.gradcam_dir.glob("*_panel.png"))[:2]
    for panel in panels:
        lines.append(f"\n![Grad-CAM panel {_alt(panel.stem)}]({_link(panel, base)})")
    if res.problems:
        lines.append(f"- unreadable results: {md('; '.join(res.problems))}")
    return lines + [""]


def _summary(rows: list[JobRow]) -> list[str]:
    done = [r for r in rows if r.results is not None and r.auroc is not None]
    aurocs = [r.auroc for r in done]
    seconds = [r.entry.get("seconds") or 0.0 for r in rows if r.entry.get("seconds")]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.entry["status"]] = counts.get(r.entry["status"], 0) + 1
    lines = ["| Metric | Value |", "|---|---|"]
    total = len(rows)
    lines.append(f"| **Completed** | {counts.get(Status.DONE, 0)}/{total} |")
    lines.append(f"| **Failed** | {counts.get(Status.FAILED, 0)}/{total} |")
    if aurocs:
        best = max(done, key=lambda r: r.auroc or 0)
        lines.append(f"| **Best test AUROC** | {doc_number(best.auroc)} ({md(best.entry['id'])}) |")
        lines.append(f"| **Median test AUROC** | {doc_number(statistics.median(aurocs))} |")
        sens = [r.results.test.get("sensitivity") for r in done if r.results.test.get("sensitivity") is not None]
        spec = [r.results.test.get("specificity") for r in done if r.results.test.get("specificity") is not None]
        if sens and spec:
            lines.append(
                f"| **Median sensitivity / specificity** | {doc_number(statistics.median(sens))} / "
                f"{doc_number(statistics.median(spec))} |"
            )
    lines.append(f"| **Training time (sum of jobs)** | {doc_duration(sum(seconds)) if seconds else NOT_AVAILABLE} |")
    return lines


def _results_table(rows: list[JobRow]) -> list[str]:
    lines = [
        "| Model | Status | Test AUROC (95 % CI) | Sensitivity | Specificity | Accuracy | Test +/− | Epochs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        e = r.entry
        if r.results is None:
            lines.append(f"| {md(e['id'])} | {e['status']} | " + " | ".join([MISSING] * 6) + " |")
            continue
        t = r.results.test
        auroc = doc_estimate(t.get("auroc"), t.get("ci", {}).get("auroc"), label="")
        lines.append(
            f"| {md(e['id'])} | {Status.DONE} | {auroc} | {doc_number(t.get('sensitivity'))} | "
            f"{doc_number(t.get('specificity'))} | {doc_number(t.get('accuracy'))} | "
            f"{t.get('n', {}).get('positive', '?')}/"
            f"{t.get('n', {}).get('negative', '?')} | {r.results.metrics.get('training', {}).get('epochs_run', '?')} |"
        )
    return lines


def build_report(output: Path, base: Path | None = None, now: float | None = None, found: list | None = None) -> str:
    """The Markdown text; image links relative to `base` (the report's folder); comparisons `found`, else made."""
    output = Path(output)
    base = Path(base or output)
    progress, rows, notes = collect(output)
    start, end = _span(rows)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.entry["status"]] = counts.get(r.entry["status"], 0) + 1
    stopped = counts.get(Status.CANCELLED, 0) + counts.get(Status.SKIPPED, 0)
    lines = [
        "# DenseNet121 Training Status Report",
        "",
        f"**Generated**: {_when(now or time.time())}  ",
        f"**Status**: {_status(rows)}  ",
        f"**Wall-clock span**: {_when(start)} → {_when(end)} "
        f"({doc_duration(end - start if start and end else None)})  ",
        f"**Device**: {md(progress.get('device') or NOT_AVAILABLE)}",
        "",
        f"> **Research use only.** {RESEARCH_USE}",
        "",
        *[line for note in notes for line in (f"> **Note**: {md(note)}", "")],
        "---",
        "",
        "## Overview",
        "",
        "| Planned | Completed | Failed | Cancelled / skipped | Queued / running |",
        "|---|---|---|---|---|",
        f"| {len(rows)} | {counts.get(Status.DONE, 0)} | {counts.get(Status.FAILED, 0)} | {stopped} | "
        f"{counts.get(Status.QUEUED, 0) + counts.get(Status.RUNNING, 0)} |",
        "",
        "## Model performance (held-out test split)",
        "",
    ]
    done = [r for r in rows if r.results is not None]
    if not done:
        lines += ["No model has finished yet.", ""]
    for low, high, title in BANDS:
        members = [r for r in done if r.auroc is not None and low <= r.auroc < high]
        if members:
            lines += [f"### {title}", ""]
            for row in members:
                lines += _model_section(row, base)
    unscored = [r for r in done if r.auroc is None]
    if unscored:
        lines += ["### AUROC not computable (a test split with one class)", ""]
        for row in unscored:
            lines += _model_section(row, base)
    failed = [r for r in rows if r.entry["status"] == Status.FAILED]
    lines += ["## Failed models", ""]
    if not failed:
        lines += ["None.", ""]
    for r in failed:
        e = r.entry
        lines += [
            f"#### {md(e['dataset'])} — {md(e['preset'])}",
            f"- **Error**: {md(e.get('error') or 'unknown')}",
            f"- **Stage**: {md(e.get('stage') or 'unknown')}",
            f"- **Hint**: {md(e.get('hint') or '')}",
            "",
        ]
    lines += compare.section(compare.compare_queue(output) if found is None else found, md)
    lines += external.section(cross_dataset_matrix(model_folders(output)), md)
    lines += ["## Summary statistics", "", *_summary(rows), "", "## All jobs", "", *_results_table(rows), ""]
    lines += [
        "## Artifact locations",
        "",
        "```",
        f"{output.name}/",
        *[f"├── {r.entry['folder']}/   models/ configs/ results/ gradcam/ README.md" for r in done],
        f"├── {PROGRESS_FILE}",
        "├── events.jsonl",
        f"├── {CSV_FILE} · {COMPARISONS_CSV} · {COMPARISONS_JSON}",
        f"└── {REPORT_FILE}",
        "```",
        "",
        "## How to load a model and run Grad-CAM",
        "",
        "```python",
        "import keras",
        f'model = keras.saving.load_model("{output.name}/<folder>/{JobFolder.MODEL}", safe_mode=True)',
        "```",
        "",
        "Preprocessing, threshold and Grad-CAM layer are in each model's `README.md`. Grad-CAM uses the last "
        "4-D feature map (`relu`, 1024 channels) and the logit; the plan's `conv5_block16_2_conv` (32 channels) "
        "can be chosen by name.",
        "",
    ]
    return "\n".join(lines)


def results_csv(output: Path) -> str:
    _, rows, _ = collect(Path(output))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for r in rows:
        e = r.entry
        row: dict[str, Any] = {
            "job": e["id"],
            "dataset": e["dataset"],
            "preset": e["preset"],
            "status": e["status"],
            "stage": e.get("stage", ""),
            "error": e.get("error", ""),
            "seconds": e.get("seconds"),
        }
        if r.results is not None:
            t, m = r.results.test, r.results.metrics
            for key in ("auroc", "sensitivity", "specificity", "accuracy"):
                row[key] = t.get(key)
                bounds = t.get("ci", {}).get(key) or [None, None]
                row[f"{key}_ci_low"], row[f"{key}_ci_high"] = bounds
            for key in ("precision", "f1", "auprc", "brier"):
                row[key] = t.get(key)
            row["threshold"] = m.get("threshold", {}).get("value")
            row["test_positive"] = t.get("n", {}).get("positive")
            row["test_negative"] = t.get("n", {}).get("negative")
            row["test_patients"] = t.get("patients")
            row["epochs_run"] = m.get("training", {}).get("epochs_run")
            row["best_epoch"] = m.get("training", {}).get("best_epoch")
        writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def write_report(output: Path, to: Path | None = None) -> tuple[Path, Path]:
    """Write STATUS_REPORT.md (or `to`), results.csv, comparisons.csv and comparisons.json; all atomically."""
    output = Path(output)
    target = Path(to) if to else output / REPORT_FILE
    write_atomic(target, build_report(output, base=target.parent, found=compare.write_comparisons(output)))
    csv_path = output / CSV_FILE
    write_atomic(csv_path, results_csv(output))
    return target, csv_path
