"""Which preset is better: paired tests between the presets trained on one dataset, from the files.

For each dataset, every pair of its finished presets scored on the same test images (the same paths
with the same labels; otherwise the pair is skipped and the reason kept), tested as `pairing.paired_tests`
does (shared with the TUI's compare screen):

- AUROC: the paired DeLong test (`evaluate.compare.paired_delong`; clustered by patient when the jobs'
  intervals resampled patients), ΔAUROC with its interval and p;
- sensitivity (test positives), specificity (test negatives) and accuracy (all test images), each model
  at its own validation-chosen threshold: the exact McNemar test (`evaluate.compare.mcnemar_exact`), the
  images taken as independent pairs; each share with its Wilson interval;
- Holm's adjustment (`evaluate.compare.holm`) in two families: every AUROC comparison of the queue, and
  every McNemar test of the queue.

`write_comparisons` writes `comparisons.csv` and `comparisons.json` in the output root; the status
report's "Which preset is better" section is `section`.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from medcam_core.evaluate.compare import PairedAuroc, holm
from medcam_core.jobqueue.state import PROGRESS_FILE, ProgressDamaged, read_progress
from medcam_core.outputs.job_folder import COMPARISONS_CSV, COMPARISONS_JSON, FOLDER_GLOB, JobFolder
from medcam_core.outputs.pairing import PROPORTIONS, ProportionTest, ScoredModel, paired_tests, read_scored_model
from medcam_core.serialize import dumps, write_atomic

AUROC_FAMILY = "every AUROC comparison of this queue (each pair of presets on each dataset)"
MCNEMAR_FAMILY = "every McNemar test of this queue (sensitivity, specificity and accuracy of each pair)"


@dataclass(frozen=True)
class Comparison:
    """Preset a against preset b on one dataset; `skipped` says why when they could not be compared."""

    dataset: str
    preset_a: str
    preset_b: str
    job_a: str
    job_b: str
    skipped: str = ""
    positives: int = 0
    negatives: int = 0
    patients: int | None = None  # when the DeLong test was clustered by patient
    confidence: float = 0.95
    threshold_a: float | None = None
    threshold_b: float | None = None
    auroc: PairedAuroc | None = None
    auroc_p_holm: float = math.nan
    proportions: list[ProportionTest] = field(default_factory=list)

    @property
    def compared(self) -> bool:
        return not self.skipped


def _finished_jobs(output: Path) -> list[ScoredModel]:
    """The committed jobs with a model and metrics, in queue order when the progress file says it."""
    jobs = []
    for path in sorted(Path(output).glob(FOLDER_GLOB)):
        folder = JobFolder(path)
        if folder.has_model() and folder.metrics_file.is_file():
            jobs.append(read_scored_model(path))
    try:
        order = [e["folder"] for e in read_progress(Path(output) / PROGRESS_FILE)["jobs"]]
    except (ProgressDamaged, OSError, KeyError, TypeError):
        order = []
    rank = {name: i for i, name in enumerate(order)}
    return sorted(jobs, key=lambda j: (rank.get(j.folder.root.name, len(rank)), j.folder.root.name))


def _compare_pair(a: ScoredModel, b: ScoredModel) -> Comparison:
    """The paired tests of two jobs of one dataset (Holm columns left for `compare_queue`)."""
    base = Comparison(a.dataset, a.preset, b.preset, a.job, b.job)
    tests = paired_tests(a, b)
    if isinstance(tests, str):
        return replace(base, skipped=tests)
    return replace(base, **{f.name: getattr(tests, f.name) for f in fields(tests)})


def compare_queue(output: Path) -> list[Comparison]:
    """Every pair of finished presets per dataset, Holm-adjusted in the two families of the queue."""
    jobs = _finished_jobs(output)
    datasets = list(dict.fromkeys(j.dataset for j in jobs))
    found = [
        _compare_pair(a, b)
        for name in datasets
        for a, b in itertools.combinations([j for j in jobs if j.dataset == name], 2)
    ]
    auroc_p = holm([c.auroc.p_value if c.auroc else math.nan for c in found])
    mcnemar_p = iter(holm([t.test.p_value for c in found for t in c.proportions]))
    return [
        replace(
            c,
            auroc_p_holm=auroc_p[i],
            proportions=[replace(t, p_holm=next(mcnemar_p)) for t in c.proportions],
        )
        for i, c in enumerate(found)
    ]


def _csv_row(c: Comparison) -> dict[str, Any]:
    row: dict[str, Any] = {
        "dataset": c.dataset,
        "preset_a": c.preset_a,
        "preset_b": c.preset_b,
        "job_a": c.job_a,
        "job_b": c.job_b,
        "compared": "yes" if c.compared else "no",
        "skipped_because": c.skipped,
        "test_positive": c.positives if c.compared else None,
        "test_negative": c.negatives if c.compared else None,
        "test_patients": c.patients,
        "confidence": c.confidence,
        "threshold_a": c.threshold_a,
        "threshold_b": c.threshold_b,
    }
    r = c.auroc
    row.update(
        auroc_a=r and r.auroc_a,
        auroc_b=r and r.auroc_b,
        delta_auroc=r and r.delta,
        delta_auroc_ci_low=r and r.ci[0],
        delta_auroc_ci_high=r and r.ci[1],
        auroc_p=r and r.p_value,
        auroc_p_holm=c.auroc_p_holm,
        auroc_method=r and r.method,
    )
    for t in c.proportions:
        m, test = t.metric, t.test
        row.update({f"{m}_a": test.a, f"{m}_b": test.b, f"{m}_n": test.n})
        row.update({f"{m}_a_only": test.discordant_a_only, f"{m}_b_only": test.discordant_b_only})
        row.update({f"{m}_p": test.p_value, f"{m}_p_holm": t.p_holm})
    return row


CSV_COLUMNS = list(_csv_row(Comparison("", "", "", "", "", proportions=[])).keys())
CSV_COLUMNS += [f"{m}_{k}" for m, _ in PROPORTIONS for k in ("a", "b", "n", "a_only", "b_only", "p", "p_holm")]


def comparisons_csv(comparisons: list[Comparison]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for c in comparisons:
        cells = _csv_row(c)
        writer.writerow(
            {k: "" if v is None or v != v else repr(v) if isinstance(v, float) else v for k, v in cells.items()}
        )
    return buf.getvalue()


def _tests(n: int) -> str:
    return f"{n} test" if n == 1 else f"{n} tests"


def family_sizes(comparisons: list[Comparison]) -> tuple[int, int]:
    """How many tests each Holm family holds: AUROC comparisons with a p, McNemar tests."""
    aurocs = sum(c.auroc is not None and not math.isnan(c.auroc.p_value) for c in comparisons)
    return aurocs, sum(len(c.proportions) for c in comparisons)


def comparisons_json(comparisons: list[Comparison]) -> str:
    aurocs, mcnemar = family_sizes(comparisons)
    document = {
        "holm_families": {
            "auroc": f"{AUROC_FAMILY}: {_tests(aurocs)}",
            "mcnemar": f"{MCNEMAR_FAMILY}: {_tests(mcnemar)}",
        },
        "delta": "first preset minus second (a − b), on the same test images",
        "comparisons": [{**asdict(c), "compared": c.compared} for c in comparisons],
    }
    return dumps(document, indent=2) + "\n"


def write_comparisons(output: Path) -> list[Comparison]:
    """Compare the queue's presets and write comparisons.csv and comparisons.json in `output` (atomically)."""
    comparisons = compare_queue(Path(output))
    write_atomic(Path(output) / COMPARISONS_CSV, comparisons_csv(comparisons))
    write_atomic(Path(output) / COMPARISONS_JSON, comparisons_json(comparisons))
    return comparisons


# -- the report's words


def p_text(p: float) -> str:
    """`p = 0.71`, `p = 0.003`, `p < 0.001`; `p n/a` when there is none. Never rounded onto 0.05 from
    either side (`p = 0.0499`), so the words and the number agree."""
    if p is None or math.isnan(p):
        return "p n/a"
    if p < 0.001:
        return "p < 0.001"
    if p >= 0.1:
        return f"p = {p:.2f}"
    return f"p = {p:.4f}" if f"{p:.3f}" == "0.050" and p != 0.05 else f"p = {p:.3f}"


def _signed(x: float) -> str:
    return f"{x:.3f}".replace("-", "−")


def _share(value: float, ci: tuple[float, float] | None) -> str:
    return f"{value:.3f}" + (f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else "")


def describe(c: Comparison, escape: Callable[[object], str] = str) -> list[str]:
    """The comparison as Markdown list items in plain words: the named tests, raw and Holm p."""
    a, b = f"`{escape(c.preset_a)}`", f"`{escape(c.preset_b)}`"
    head = f"- **{escape(c.dataset)}**, {a} vs {b}: "
    if c.skipped:
        return [head + f"not compared — {escape(c.skipped)}."]
    r = c.auroc
    assert r is not None
    alpha = 1 - c.confidence
    level = f"{c.confidence:.0%}".replace("%", " %")
    size = f"{c.positives} + {c.negatives} test images" + (f" from {c.patients} patients" if c.patients else "")
    unusual = f"; {escape(r.method)}" if ":" in r.method or r.method.startswith("exact") else ""
    ps = f"DeLong {p_text(r.p_value)}, Holm {p_text(c.auroc_p_holm)}{unusual}"
    if math.isnan(r.p_value):
        lines = [head + f"the AUROC difference could not be tested with {size} ({escape(r.method)})."]
    elif c.auroc_p_holm < alpha:
        winner, loser, sign = (a, b, 1) if r.delta > 0 else (b, a, -1)
        low, high = sorted((sign * r.ci[0], sign * r.ci[1]))
        lines = [
            head + f"{winner} has the higher AUROC on these {size} ({max(r.auroc_a, r.auroc_b):.3f} vs "
            f"{min(r.auroc_a, r.auroc_b):.3f}; ΔAUROC {winner} − {loser} {_signed(sign * r.delta)}, {level} CI "
            f"{_signed(low)} to {_signed(high)}, {ps})."
        ]
    else:
        uncorrected = " — below the level before, not after, the Holm correction" if r.p_value < alpha else ""
        lines = [
            head + f"no detectable difference in AUROC with {size} ({r.auroc_a:.3f} vs {r.auroc_b:.3f}; "
            f"ΔAUROC {a} − {b} {_signed(r.delta)}, {level} CI {_signed(r.ci[0])} to {_signed(r.ci[1])}, {ps}"
            f"{uncorrected})."
        ]
    for t in c.proportions:
        x = t.test
        verdict = (
            f"{a if x.a > x.b else b} has the higher {t.metric}" if t.p_holm < alpha else "no detectable difference"
        )
        lines.append(
            f"  - {t.metric} on the {x.n} {t.images}, each at its own threshold: {_share(x.a, t.ci_a)} vs "
            f"{_share(x.b, t.ci_b)} (Wilson {level} CI; discordant images: {x.discordant_a_only} right only by "
            f"{a}, {x.discordant_b_only} right only by {b}; exact McNemar {p_text(x.p_value)}, "
            f"Holm {p_text(t.p_holm)}): {verdict}."
        )
    return lines


def section(comparisons: list[Comparison], escape: Callable[[object], str] = str) -> list[str]:
    """The report's "Which preset is better" section (Markdown lines)."""
    title = ["## Which preset is better", ""]
    if not comparisons:
        return title + ["Nothing to compare yet: a comparison needs two finished presets of one dataset.", ""]
    tested, mcnemar = family_sizes(comparisons)
    lines = title + [
        "Paired tests on the same held-out test images, never overlapping intervals. AUROC: the paired DeLong "
        "test (clustered by patient when patients hold several images), Holm-adjusted across "
        f"{AUROC_FAMILY} — {_tests(tested)}. Sensitivity, specificity and accuracy, each model at its own "
        "threshold chosen on validation: the exact McNemar test on the images one model gets right and the "
        f"other wrong (images taken as independent), Holm-adjusted across {MCNEMAR_FAMILY} — {_tests(mcnemar)}. "
        f"A preset is called better only when its Holm-adjusted p is below {1 - comparisons[0].confidence:.2f}. "
        '"No detectable '
        'difference" means this test split cannot tell the presets apart, not that they are equivalent; '
        "either way these are research figures on one test split. Every figure is in "
        f"`{COMPARISONS_CSV}` and `{COMPARISONS_JSON}`.",
        "",
    ]
    for c in comparisons:
        lines += describe(c, escape)
    return lines + [""]
