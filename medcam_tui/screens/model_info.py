"""The model browser's text about the selected model: figures, confusion matrix, config, Grad-CAM
localisation, external validations and files (Rich markup, names escaped)."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from medcam_core.formatting import estimate, number
from medcam_core.outputs.external import read_external
from medcam_core.outputs.job_folder import ExternalFolder, JobFolder
from medcam_core.outputs.results import JobResults
from medcam_core.safe_text import printable


def _display(path: Path) -> str:
    """Relative to the working directory when under it: shorter, and what the user typed."""
    try:
        return printable(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return printable(path)


def _external_lines(folder: Path) -> list[str]:
    """The model's validations on other datasets, each at the threshold it froze on its own validation."""
    lines = []
    for external in JobFolder(folder).externals():
        metrics = read_external(external)
        if metrics is None:
            lines.append(f"  {escape(printable(external.dataset))}: unreadable {ExternalFolder.METRICS}")
            continue
        test, threshold = metrics.get("test", {}), metrics.get("threshold", {})
        ci, n = test.get("ci", {}), test.get("n", {})
        lines.append(
            f"  {escape(printable(external.dataset))} ({metrics.get('split', '?')} images, "
            f"{n.get('positive', '?')}+/{n.get('negative', '?')}−): "
            f"AUROC {estimate(test.get('auroc'), ci.get('auroc'))} · sens {number(test.get('sensitivity'))} · "
            f"spec {number(test.get('specificity'))} at "
            f"{number(threshold.get('value'))} ({escape(printable(threshold.get('source', '?')))})"
        )
    return ["", "[b]external validation[/b]", *lines] if lines else []


def _files(res: JobResults) -> list[str]:
    lines = ["", "[red]" + escape("; ".join(res.problems)) + "[/red]"] if res.problems else []
    lines += ["", "[b]files[/b]"] + [f"  {escape(printable(p.relative_to(res.folder)))}" for p in res.artifacts()]
    return lines + [f"  in {escape(_display(res.folder))}"]


def model_info(res: JobResults) -> str:
    if res.imported is not None:
        return _imported_info(res)
    test, m = res.test, res.metrics
    cis = test.get("ci", {})
    cm = test.get("confusion_matrix", {})
    preset = res.config.get("preset", {})
    threshold = m.get("threshold", {})
    lines = [
        f"[b]{m.get('job', res.folder.name)}[/b]",
        f"threshold {number(threshold.get('value'))} ({threshold.get('method', '?')}, chosen on validation)",
        f"AUROC {estimate(test.get('auroc'), cis.get('auroc'))} · "
        f"AUPRC {number(test.get('auprc'))} · Brier {number(test.get('brier'))}",
        f"sensitivity {estimate(test.get('sensitivity'), cis.get('sensitivity'))} · "
        f"specificity {estimate(test.get('specificity'), cis.get('specificity'))}",
        "",
        "confusion matrix (test)     predicted −   predicted +",
        f"  actual −                  {cm.get('tn', '?'):>10}   {cm.get('fp', '?'):>11}",
        f"  actual +                  {cm.get('fn', '?'):>10}   {cm.get('tp', '?'):>11}",
        "",
        "config: "
        + ", ".join(
            f"{k}={preset[k]}"
            for k in (
                "epochs",
                "image_size",
                "batch_size",
                "learning_rate",
                "trainable_layers",
                "weights",
                "monitor",
            )
            if k in preset
        ),
    ]
    gradcam = m.get("gradcam")
    if gradcam:
        lines.append("")
        lines.append(f"Grad-CAM localisation (against {gradcam.get('ground_truth', 'masks')}):")
        for layer, figures in gradcam.get("layers", {}).items():
            lines.append(
                f"  {layer}: pointing game {number(figures.get('pointing_game'))}, "
                f"energy in mask {number(figures.get('energy_in_mask'))}"
            )
    return "\n".join(lines + _external_lines(res.folder) + _files(res))


def _imported_info(res: JobResults) -> str:
    """A model file `evaluate` scored: where it came from and how it was used; no training of ours."""
    source = res.imported or {}
    lines = [
        f"[b]imported model[/b] {escape(printable(source.get('source', '?')))}",
        f"sha256 {str(source.get('sha256', '?'))[:16]}… · {source.get('image_size', '?')} px · "
        f"{source.get('preprocess', '?')} preprocessing · positive output {source.get('positive_index', '?')}",
        "not trained here: no own test split, training curves or Grad-CAM figures",
    ]
    return "\n".join(lines + _external_lines(res.folder) + _files(res))
