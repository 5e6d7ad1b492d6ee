"""Score images with a classifier a batch at a time: paths in, one outcome per path out, memory flat.

Inputs are expanded first (folders recursively, through the dataset discovery rules; a file named on
the command line is tried whatever its suffix). Then each batch is decoded in a thread pool (Pillow
releases the GIL), scored, optionally explained, handed on and dropped: only the list of paths is
held, never the images or the rows, so 100 000 images take the memory of one batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medcam_core.data.decode import ImageSkipped, decode
from medcam_core.data.discovery import FILE, FOLDER, entry_kind, image_files

if TYPE_CHECKING:  # the classifier brings TensorFlow; expanding inputs must not
    from medcam_core.inference.classifier import Classifier

BATCH = 32
TRACE_FROM = 64  # images: for fewer, eager Grad-CAM costs less than tracing its function once
COLUMNS = ("path", "probability", "predicted", "threshold")


@dataclass(frozen=True)
class Source:
    """An input file, the folder argument it was found under (None when named itself), its label if known."""

    path: Path
    folder: Path | None = None
    label: int | None = None


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class Scored:
    source: Source
    probability: float
    predicted: int
    panel: Path | None = None  # the Grad-CAM panel, when asked for

    def row(self, threshold: float) -> dict[str, str]:
        return {
            "path": str(self.source.path),
            "probability": f"{self.probability:.6f}",
            "predicted": str(self.predicted),
            "threshold": f"{threshold:.6g}",
        }


def expand(inputs: list[Path]) -> tuple[list[Source], list[Skipped]]:
    """Every file to score, in the order given (each folder's files sorted), and what was left out and why."""
    sources: list[Source] = []
    skipped: list[Skipped] = []
    for given in inputs:
        kind = entry_kind(given)
        if kind == FILE:
            sources.append(Source(given))
        elif kind == FOLDER:
            left_out: list[tuple[str, str]] = []
            sources += [Source(path, given) for path in image_files(given, left_out)]
            skipped += [Skipped(path, reason) for path, reason in left_out]
        else:
            skipped.append(Skipped(str(given), kind))
    return sources, skipped


class CamWriter:
    """Grad-CAM panels of scored images under one folder, mirroring the sub-folders of a folder input.

    Two inputs with one file stem in one folder would overwrite each other's panels, so the second
    goes into a sub-folder named after its whole file name.
    """

    def __init__(
        self, classifier: Classifier, out: Path, layer: str | None = None, target: str = "predicted", images: int = 0
    ) -> None:
        """`images`: how many will be explained, so a handful skips tracing."""
        from medcam_core.explain.cam import GradCAM

        self.classifier, self.out, self.target = classifier, out, target
        self.cam = GradCAM(
            classifier.model, layer, positive_index=classifier.head.positive_index, traced=images >= TRACE_FROM
        )
        self._taken: set[tuple[Path, str]] = set()

    def folder_for(self, source: Source) -> Path:
        folder = self.out
        if source.folder is not None:
            folder = self.out / source.path.parent.relative_to(source.folder)
        if (folder, source.path.stem) in self._taken:
            folder = folder / source.path.name
        self._taken.add((folder, source.path.stem))
        return folder

    def write(self, sources: list[Source], inputs: np.ndarray) -> list[Path]:
        """Panels (and overlay, heatmap, raw map) for a batch of model inputs; the panels' paths."""
        from medcam_core.explain.maps import Item, explain
        from medcam_core.explain.render import export

        threshold = self.classifier.threshold.value
        items = [Item(source.path, source.label) for source in sources]
        size = self.classifier.image_size
        results = explain(self.cam, items, size, target=self.target, threshold=threshold, inputs=inputs)
        return [
            export(result, self.folder_for(source), self.cam.layer, threshold)["panel"]
            for result, source in zip(results, sources, strict=True)
        ]


def score(
    classifier: Classifier,
    sources: list[Source],
    batch_size: int = BATCH,
    cams: CamWriter | None = None,
    workers: int | None = None,
) -> Iterator[Scored | Skipped]:
    """One outcome per source, in order: its score, or why it could not be read."""
    size = classifier.image_size

    def one(source: Source) -> np.ndarray | str:
        try:
            return decode(source.path, size)
        except ImageSkipped as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 2)) as pool:
        for start in range(0, len(sources), batch_size):
            batch = sources[start : start + batch_size]
            decoded: list[Any] = list(pool.map(one, batch))
            good = [i for i, item in enumerate(decoded) if not isinstance(item, str)]
            scored: dict[int, Scored] = {}
            if good:
                inputs = classifier.model_input(np.stack([decoded[i] for i in good]))
                probabilities = classifier.scores(inputs)
                predicted = classifier.decide(probabilities)
                panels: list[Path | None] = [None] * len(good)
                if cams is not None:
                    panels = list(cams.write([batch[i] for i in good], inputs))
                for k, i in enumerate(good):
                    scored[i] = Scored(batch[i], float(probabilities[k]), int(predicted[k]), panels[k])
            for i, item in enumerate(decoded):
                yield scored[i] if i in scored else Skipped(str(batch[i].path), item)
