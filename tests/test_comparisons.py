"""Which preset is better: every pair of a dataset's presets, the paired tests on the images they
share (recomputed here from the same arrays), Holm over the queue, skips with their reasons, the files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from medcam_core.evaluate.compare import holm, mcnemar_exact, paired_delong
from medcam_core.evaluate.intervals import wilson
from medcam_core.evaluate.metrics import metrics_at
from medcam_core.jobqueue.state import PROGRESS_FILE
from medcam_core.outputs.comparisons import CSV_COLUMNS, compare_queue, p_text, write_comparisons
from medcam_core.outputs.job_folder import COMPARISONS_CSV, COMPARISONS_JSON
from medcam_core.serialize import write_json_atomic

from test_report import prediction_rows, scored_job, two_models


def queue(root: Path, entries: list[dict]) -> Path:
    write_json_atomic(root / PROGRESS_FILE, {"device": "CPU", "jobs": entries})
    return root


def test_every_pair_of_a_datasets_presets_in_queue_order(tmp_path: Path) -> None:
    y, p_a, p_b = two_models(0, 0.1)
    entries = [
        scored_job(tmp_path, "pneumonia", "standard", prediction_rows(y, p_a)),
        scored_job(tmp_path, "pneumonia", "intensive", prediction_rows(y, p_b)),
        scored_job(tmp_path, "pneumonia", "long", prediction_rows(y, (p_a + p_b) / 2)),
        scored_job(tmp_path, "cardiomegaly", "standard", prediction_rows(y, p_a)),  # alone: nothing to compare
    ]
    unfinished = scored_job(tmp_path, "cardiomegaly", "intensive", prediction_rows(y, p_b))
    (tmp_path / unfinished["folder"] / "models" / "model.keras").unlink()  # a job without its model is not done
    found = compare_queue(queue(tmp_path, [entries[2], entries[0], entries[1], entries[3], unfinished]))
    assert [(c.dataset, c.preset_a, c.preset_b) for c in found] == [
        ("pneumonia", "long", "standard"),
        ("pneumonia", "long", "intensive"),
        ("pneumonia", "standard", "intensive"),
    ]
    assert all(c.compared and c.job_a == f"pneumonia_{c.preset_a}" for c in found)


def test_the_figures_are_the_paired_tests_on_the_shared_images(tmp_path: Path) -> None:
    y, p_a, p_b = two_models(3, 0.25)
    paths = [f"img{i:03d}.png" for i in range(len(y))]
    a_rows = prediction_rows(y, p_a, paths)
    b_rows = prediction_rows(y, p_b, paths)
    b_rows = b_rows[:4] + b_rows[4:][::-1]  # the other job lists the same test images in another order
    queue(
        tmp_path,
        [
            scored_job(tmp_path, "pneumonia", "standard", a_rows, threshold=0.45),
            scored_job(tmp_path, "pneumonia", "intensive", b_rows, threshold=0.6),
        ],
    )
    (c,) = compare_queue(tmp_path)
    groups = [f"p{i // 2}" for i in range(len(y))]
    expected = paired_delong(y, p_a, p_b, 0.95, groups)
    assert c.auroc == expected and "Obuchowski" in c.auroc.method
    assert (c.positives, c.negatives, c.patients) == (29, 31, 30) and (c.threshold_a, c.threshold_b) == (0.45, 0.6)
    hits_a, hits_b = (p_a >= 0.45) == (y == 1), (p_b >= 0.6) == (y == 1)
    by_metric = {t.metric: t for t in c.proportions}
    for metric, chosen in (("sensitivity", y == 1), ("specificity", y == 0), ("accuracy", np.ones(len(y), bool))):
        t = by_metric[metric]
        assert t.test == mcnemar_exact(hits_a[chosen], hits_b[chosen])
        assert t.ci_a == wilson(int(hits_a[chosen].sum()), int(chosen.sum()))
        assert t.ci_b == wilson(int(hits_b[chosen].sum()), int(chosen.sum()))
        assert t.test.a == pytest.approx(metrics_at(y, p_a, 0.45)[metric])
        assert t.test.b == pytest.approx(metrics_at(y, p_b, 0.6)[metric])
    assert by_metric["sensitivity"].test.n == 29 and by_metric["specificity"].test.n == 31


def test_without_patient_ids_the_delong_test_is_not_clustered(tmp_path: Path) -> None:
    y, p_a, p_b = two_models(4, 0.2)
    queue(
        tmp_path,
        [
            scored_job(tmp_path, "limb", "standard", prediction_rows(y, p_a), unit="image"),
            scored_job(tmp_path, "limb", "intensive", prediction_rows(y, p_b), unit="image"),
        ],
    )
    (c,) = compare_queue(tmp_path)
    assert c.patients is None and c.auroc == paired_delong(y, p_a, p_b, 0.95, None)
    assert "Sun & Xu" in c.auroc.method


def test_holm_runs_over_every_auroc_comparison_of_the_queue(tmp_path: Path) -> None:
    entries = []
    for seed, dataset in enumerate(("pneumonia", "cardiomegaly", "limb")):
        y, p_a, p_b = two_models(10 + seed, 0.05 + 0.3 * seed)
        entries += [
            scored_job(tmp_path, dataset, "standard", prediction_rows(y, p_a)),
            scored_job(tmp_path, dataset, "intensive", prediction_rows(y, p_b)),
        ]
    y, p_a, _ = two_models(20, 0.0)  # this pair is skipped: not part of either family
    entries += [
        scored_job(tmp_path, "knee", "standard", prediction_rows(y, p_a)),
        scored_job(tmp_path, "knee", "intensive", None),
    ]
    found = compare_queue(queue(tmp_path, entries))
    tested = [c for c in found if c.compared]
    assert len(tested) == 3 and not found[-1].compared and found[-1].auroc is None
    raw = [c.auroc.p_value for c in tested]
    assert [c.auroc_p_holm for c in tested] == pytest.approx(holm(raw))
    assert all(h >= p for h, p in zip([c.auroc_p_holm for c in tested], raw, strict=True))
    tests = [t for c in tested for t in c.proportions]
    assert len(tests) == 9 and [t.p_holm for t in tests] == pytest.approx(holm([t.test.p_value for t in tests]))
    write_comparisons(tmp_path)
    document = json.loads((tmp_path / COMPARISONS_JSON).read_text())
    assert document["holm_families"]["auroc"].endswith(": 3 tests")
    assert "every AUROC comparison of this queue" in document["holm_families"]["auroc"]
    assert document["holm_families"]["mcnemar"].endswith(": 9 tests")


def test_pairs_that_cannot_be_compared_are_skipped_with_the_reason(tmp_path: Path) -> None:
    y, p_a, p_b = two_models(5, 0.1)
    paths = [f"img{i:03d}.png" for i in range(len(y))]
    moved = paths[:-2] + ["other1.png", "other2.png"]
    relabelled = y.copy()
    relabelled[:3] = 0
    entries = [
        scored_job(tmp_path, "pneumonia", "standard", prediction_rows(y, p_a, paths)),
        scored_job(tmp_path, "pneumonia", "intensive", prediction_rows(y, p_b, moved)),
        scored_job(tmp_path, "limb", "standard", prediction_rows(y, p_a, paths)),
        scored_job(tmp_path, "limb", "intensive", prediction_rows(relabelled, p_b, paths)),
        scored_job(tmp_path, "knee", "standard", prediction_rows(y, p_a)),
        scored_job(tmp_path, "knee", "intensive", None),
    ]
    reasons = {c.dataset: c.skipped for c in compare_queue(queue(tmp_path, entries))}
    assert reasons["pneumonia"] == (
        "not scored on the same test images (2 only in the first, 2 only in the second, 58 shared)"
    )
    assert reasons["limb"] == "the same test images carry different labels (3 images)"
    assert reasons["knee"] == "knee_intensive has no results/predictions.csv"


def test_the_files_hold_every_comparison_in_strict_json_and_csv(tmp_path: Path) -> None:
    y, p_a, p_b = two_models(6, 0.15)
    entries = [
        scored_job(tmp_path, "pneumonia", "standard", prediction_rows(y, p_a)),
        scored_job(tmp_path, "pneumonia", "intensive", prediction_rows(y, p_b)),
        scored_job(tmp_path, "knee", "standard", prediction_rows(y, p_a)),
        scored_job(tmp_path, "knee", "intensive", None),
    ]
    found = write_comparisons(queue(tmp_path, entries))

    def no_nan(name: str) -> None:
        raise AssertionError(f"{name} in {COMPARISONS_JSON}")

    document = json.loads((tmp_path / COMPARISONS_JSON).read_text(), parse_constant=no_nan)
    pneumonia, knee = document["comparisons"]
    assert pneumonia["compared"] and pneumonia["auroc"]["p_value"] == found[0].auroc.p_value
    assert pneumonia["auroc"]["ci"] == list(found[0].auroc.ci)
    assert pneumonia["proportions"][0]["test"]["discordant_a_only"] == found[0].proportions[0].test.discordant_a_only
    assert not knee["compared"] and knee["auroc"] is None and "predictions.csv" in knee["skipped"]
    with open(tmp_path / COMPARISONS_CSV, newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == CSV_COLUMNS
        rows = list(reader)
    assert float(rows[0]["delta_auroc"]) == found[0].auroc.delta
    assert float(rows[0]["auroc_p_holm"]) == found[0].auroc_p_holm
    assert (
        int(rows[0]["sensitivity_n"]) == 29 and float(rows[0]["specificity_p"]) == found[0].proportions[1].test.p_value
    )
    assert rows[1]["compared"] == "no" and rows[1]["auroc_p"] == "" and rows[1]["skipped_because"]


def test_p_values_are_written_to_the_precision_they_carry() -> None:
    assert [p_text(v) for v in (0.71, 1.0, 0.0499, 0.0502, 0.05, 0.003, 0.0004, float("nan"))] == [
        "p = 0.71",
        "p = 1.00",
        "p = 0.0499",
        "p = 0.0502",
        "p = 0.050",
        "p = 0.003",
        "p < 0.001",
        "p n/a",
    ]
