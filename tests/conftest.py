"""Shared fixtures: tiny real data on disk and tiny presets, so tests train real models fast."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from medcam_core.config import BUILTIN_PRESETS, DatasetSpec, EvaluationSpec, Preset, QueueConfig  # noqa: E402
from medcam_core.data.synthetic import PATIENT_RE, TASKS, generate  # noqa: E402

TINY = 32


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Heaviest files first. Each worker takes whole files (`--dist loadfile`, in this order with
    `--no-loadscope-reorder`); xdist's own order, most tests first, left a one-minute file to start
    last on one worker while the other had finished (70 s apart on a 6-minute suite)."""

    def cost(item: pytest.Item) -> float:
        mark = item.get_closest_marker("cost")
        return mark.args[0] if mark else 0.0

    items.sort(key=cost, reverse=True)


@pytest.fixture(scope="session", autouse=True)
def outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Work from a scratch folder: a subprocess started with `-c` or `-m` puts its working directory
    first on sys.path, and from the checkout's root it would import the sources instead of the
    installed package that this suite tests."""
    os.chdir(tmp_path_factory.mktemp("cwd"))


def tiny_preset(name: str = "standard", **changes: object) -> Preset:
    base = replace(
        BUILTIN_PRESETS.get(name, BUILTIN_PRESETS["standard"]),
        name=name,
        image_size=TINY,
        batch_size=8,
        epochs=2,
        weights="none",
        learning_rate=1e-3,
        dense_units=8,
        monitor="val_auc",
    )
    return replace(base, **changes)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic tasks, 24 images per class, 64 px: real PNGs in the real layout."""
    return generate(tmp_path_factory.mktemp("synthetic"), tasks=["pneumonia", "cardiomegaly"], per_class=24, size=64)


def dataset_spec(root: Path, task: str, **changes: object) -> DatasetSpec:
    positive = (TASKS[task].positive,) if task in TASKS else ("positive",)
    spec = DatasetSpec(name=task, path=root / task, positive=positive, patient_id=PATIENT_RE)
    return replace(spec, **changes)


def tiny_queue(
    datasets: tuple[DatasetSpec, ...], output: Path, presets: dict[str, Preset] | None = None
) -> QueueConfig:
    presets = presets or {"standard": tiny_preset()}
    return QueueConfig(
        datasets=datasets,
        presets=presets,
        order=tuple(presets),
        output=output,
        evaluation=EvaluationSpec(bootstrap=50),
    )
