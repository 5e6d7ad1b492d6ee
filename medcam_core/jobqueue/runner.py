"""Run the queue: one job after another, each failure isolated, everything announced as events.

Stages per job: load → build → fit → evaluate → save. Any exception fails that job only, with the
stage, a one-line hint, and the traceback in the log. Data and frozen features of a dataset are
kept for the next job when it trains the same dataset (the plan's two presets run back to back).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from medcam_core import __version__
from medcam_core.config import Job, QueueConfig
from medcam_core.data.load import LoadedDataset, load_dataset
from medcam_core.errors import ConfigError, DataError, MedcamError, WeightsUnavailableError
from medcam_core.events import (
    DatasetLoaded,
    Event,
    JobFailed,
    JobFinished,
    JobStarted,
    JobStopped,
    ModelBuilt,
    Notice,
    QueueChanged,
    QueueFinished,
    QueuePaused,
    QueueStarted,
    StageProgress,
    StageStarted,
)
from medcam_core.jobqueue.control import QueueControl
from medcam_core.jobqueue.state import (
    CANCELLED,
    DONE,
    FAILED,
    PROGRESS_FILE,
    QUEUED,
    RUNNING,
    SKIPPED,
    JobQueue,
    save_progress,
)
from medcam_core.outputs.job_folder import (
    BACKUP_DIR,
    PARTIAL_DIR,
    SCRATCH_DIR,
    commit,
    model_readme,
    work_dir,
    write_curves,
    write_predictions,
)
from medcam_core.outputs.results import summarize
from medcam_core.serialize import dumps, write_json_atomic
from medcam_core.train.threads import apply_thread_settings

log = logging.getLogger("medcam")
Sink = Callable[[Event], None]
STOP_STATUS = {"cancelled": CANCELLED, "skipped": SKIPPED, "interrupted": QUEUED}


class JobStop(Exception):
    """Raised between stages when the control asked this job to stop."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def hint_for(stage: str, exc: BaseException) -> str:
    """One line telling the user what to try; the traceback is in the log."""
    name = type(exc).__name__
    if isinstance(exc, DataError):
        return "`medcam-tui data check` shows what the dataset holds; fix the folder or the dataset's config"
    if isinstance(exc, WeightsUnavailableError):
        return 'provide the weights file or set weights = "none"'
    if name == "TrainingDiverged":
        return "lower learning_rate (e.g. 1e-5) or look for corrupt images"
    if name in ("ResourceExhaustedError", "MemoryError"):
        return "lower batch_size or image_size"
    if isinstance(exc, OSError) and stage == "save":
        return "check free disk space and write permission of the output folder"
    if isinstance(exc, OSError):
        return "a file could not be read or written; check that the paths exist and are readable"
    return "see the traceback in medcam.log in the output folder"


def gpu_count() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def describe_device() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
        return ", ".join(names)
    return f"CPU ({os.cpu_count()} cores)"


class Runner:
    """Owns the queue state, the control and the sinks; `run()` executes until done or quit."""

    def __init__(
        self,
        config: QueueConfig,
        sinks: Iterable[Sink] = (),
        control: QueueControl | None = None,
        progress_throttle_s: float = 0.1,
        progress_path: Path | None = None,
    ) -> None:
        self.config = config
        self.output = config.output
        self.sinks = list(sinks)
        self.control = control or QueueControl()
        self.progress_path = progress_path or self.output / PROGRESS_FILE
        self.scratch = self.output / SCRATCH_DIR
        self.queue = JobQueue.resume(config, self.progress_path)
        self.queue.subscribe(self._persist)
        self._resume_notes = self.queue.take_notes()
        for note in self._resume_notes:  # in medcam.log even if the queue never starts
            log.warning("%s", note)
        self._started: set[str] = set()  # job ids this run started; a retry takes its id out again
        self.device = ""
        self.started = time.time()
        self._throttle = progress_throttle_s
        self._data: LoadedDataset | None = None
        self._data_key: tuple | None = None
        self._features: Any = None
        self._warned: set[str] = set()

    # -- sinks and persistence ----------------------------------------------------------------

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:  # a broken screen must never stop training
                log.exception("event sink %r failed", sink)

    def _persist(self, jobs: list[dict[str, Any]]) -> None:
        meta = {
            "medcam_version": __version__,
            "source": self.config.source,
            "device": self.device,
            "started": self.started,
            "updated": time.time(),
        }
        save_progress(self.progress_path, jobs, meta)

    # -- control, callable from any thread ----------------------------------------------------

    def pause(self) -> None:
        self.control.pause()
        self.emit(QueuePaused(True))

    def resume(self) -> None:
        self.control.resume()
        self.emit(QueuePaused(False))

    def stop_job(self, job_id: str, status: str) -> None:
        self.control.stop_job(job_id, status)

    def move(self, job_id: str, delta: int) -> None:
        self.queue.move(job_id, delta)
        self.emit(QueueChanged(self.queue.snapshot()))

    def remove(self, job_id: str) -> None:
        self.queue.remove(job_id)
        self.emit(QueueChanged(self.queue.snapshot()))

    def retry(self, job_id: str) -> None:
        self.queue.retry(job_id)
        self._started.discard(job_id)
        self.emit(QueueChanged(self.queue.snapshot()))

    def add(self, dataset: str, preset: str) -> None:
        job = self.config.job_by_id(f"{dataset}_{preset}")
        self.queue.add(job)
        self._started.discard(job.id)
        self.emit(QueueChanged(self.queue.snapshot()))

    # -- the queue ----------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        """Run every queued job; returns the final status counts."""
        start = time.perf_counter()
        late = self._prepare()
        self.preflight()
        self._persist(self.queue.snapshot())
        self.emit(QueueStarted(self.queue.snapshot(), str(self.output), self.device, self.config.source))
        if late:
            self.emit(Notice("warning", late))
        for note in self._resume_notes:
            self.emit(Notice("warning", note))
        for spec in self.config.datasets:
            if not spec.path.is_dir():
                self.emit(
                    Notice("warning", f"dataset {spec.name!r}: folder not found: {spec.path}; its jobs will fail")
                )
        if self.config.executor == "local" and self.config.parallel == 1:
            self._run_here()
        else:
            from medcam_core.jobqueue.executors import RemoteJobs, make_transport

            RemoteJobs(self, make_transport(self.config, gpu_count()), self.config.parallel).run()
        self._data = self._features = None
        counts = self.queue.counts()
        self.emit(QueueFinished(counts, time.perf_counter() - start, interrupted=self.control.quitting))
        return counts

    def _run_here(self) -> None:
        while not self.control.quitting:
            self.control.wait_while_paused()
            if self.control.quitting:
                break
            job = self.next_job()
            if job is None:
                break
            self._run_job(job)

    def next_job(self) -> Job | None:
        """The next queued job, taken for starting. One that this run already started, and that the
        user did not retry, fails instead: whatever re-queued it, no run starts a job twice."""
        while (entry := self.queue.next_queued()) is not None:
            if entry.id not in self._started:
                self._started.add(entry.id)
                return self.config.job_by_id(entry.id)
            self.publish(
                JobFailed(
                    entry.id,
                    "start",
                    f"{entry.id} was queued again after it had started in this run; it is not started twice",
                    "retry it to run it once more (r in the TUI)",
                    "",
                    0.0,
                )
            )
        return None

    def run_job(self, job: Job) -> None:
        """One job outside the queue loop: what a worker process runs for a remote executor."""
        late = self._prepare()
        if late:
            self.emit(Notice("warning", late, job.id))
        self._run_job(job)

    def _prepare(self) -> str | None:
        """The output folder, TensorFlow's thread pools and the device, before any job of this process;
        a message when the thread settings came too late to apply."""
        self.output.mkdir(parents=True, exist_ok=True)
        late = apply_thread_settings(self.config.intra_op_threads, self.config.inter_op_threads)
        self.device = describe_device()
        return late

    def preflight(self) -> None:
        """Check once, before any job, what would fail every job alike (pretrained weights)."""
        from medcam_core.train.model import resolve_weights

        for name in {self.config.job_by_id(e["id"]).preset.name for e in self.queue.snapshot()}:
            try:
                resolve_weights(self.config.presets[name].weights)
            except WeightsUnavailableError as exc:
                raise ConfigError(self.config.source, f"presets.{name}.weights", str(exc)) from None

    def publish(self, event: Event) -> None:
        """A job event: what it means for the queue state (and the progress file), then the sinks.

        The one place queue state follows a job, whether the job runs here or in a worker whose
        events a remote driver passes on. `features` is a part of `fit`, not a stage of its own.
        """
        queue, now = self.queue, time.time()
        if isinstance(event, JobStarted):
            attempts = queue.get(event.job_id).attempts + 1
            queue.update(event.job_id, status=RUNNING, started=now, stage="load", error="", hint="", attempts=attempts)
        elif isinstance(event, StageStarted) and event.stage != "features":
            queue.update(event.job_id, stage=event.stage)
        elif isinstance(event, JobFinished):
            queue.update(
                event.job_id,
                status=DONE,
                stage="",
                finished=now,
                seconds=event.seconds,
                epochs_run=event.epochs_run,
                metrics=event.metrics,
            )
        elif isinstance(event, JobStopped):
            queue.update(
                event.job_id, status=STOP_STATUS[event.status], stage="", error=event.reason, seconds=event.seconds
            )
        elif isinstance(event, JobFailed):
            queue.update(
                event.job_id,
                status=FAILED,
                stage=event.stage,
                error=event.error,
                hint=event.hint,
                finished=now,
                seconds=event.seconds,
            )
        self.emit(event)

    def _run_job(self, job: Job) -> None:
        stage = "load"
        t0 = time.perf_counter()
        work: Path | None = None
        scope = contextlib.ExitStack()  # the job's distribution scope, left before the session is cleared
        ids = [e["id"] for e in self.queue.snapshot()]
        self.publish(
            JobStarted(job.id, job.dataset.name, job.preset.name, ids.index(job.id) + 1, len(ids), job.preset.epochs)
        )
        try:
            stage = self._stage(job, "load")
            data = self._load(job)
            stage = self._stage(job, "build")
            scope.enter_context(self._distribution(job))
            built, split = self._build(job)
            stage = self._stage(job, "fit")
            spec = dumps({"dataset": asdict(job.dataset), "preset": asdict(job.preset)})
            work, resumed = work_dir(self.output, job.folder_name, spec)
            if resumed:
                self.emit(Notice("info", f"resuming {job.id} from its last completed epoch", job.id))
            features = self._feature_cache(job, data, split) if split else None
            from medcam_core.train.fit import fit
            from medcam_core.train.strategy import replicas

            result = fit(
                job.id, job.preset, built.model, data, features, split, work, self.emit, self.control, self._throttle
            )
            if result.stopped:
                raise JobStop(*result.stopped)
            stage = self._stage(job, "evaluate")
            metrics, predictions = self._evaluate(job, built.model, data, features, split)
            metrics["training"] = {
                "epochs_run": result.epochs_run,
                "epochs_planned": job.preset.epochs,
                "best_epoch": result.best_epoch,
                "monitor": job.preset.monitor,
                "training_path": "cached-features" if features is not None else "plain",
                "replicas": replicas(),
                "seconds": time.perf_counter() - t0,
                "first_trainable": built.first_trainable,
                "trainable_layers": built.trainable_layers,
            }
            metrics["dataset"] = {
                "counts": data.counts(),
                "patients": data.patients(),
                "skipped": len(data.skipped),
            }
            stage = self._stage(job, "explain")
            cached = (split, features.by_split["test"]) if features is not None else None
            metrics["gradcam"] = self._explain(
                job, built.model, predictions, metrics["threshold"]["value"], work, cached
            )
            stage = self._stage(job, "save")
            self._save(job, built.model, work, metrics, predictions, result.history, data)
            shutil.rmtree(work / BACKUP_DIR, ignore_errors=True)
            folder = commit(self.output, work, job.folder_name)
            self._discard(None)
            seconds = time.perf_counter() - t0
            summary = summarize(metrics)
            self.publish(JobFinished(job.id, summary, result.best_epoch, result.epochs_run, seconds, str(folder)))
        except JobStop as stop:
            if stop.status != "interrupted":  # an interrupted job keeps its backup and resumes next start
                self._discard(work)
            self.control.clear_stop(job.id)
            self.publish(JobStopped(job.id, stop.status, stop.reason, time.perf_counter() - t0))
        except Exception as exc:
            self._discard(work)
            tb = traceback.format_exc()
            log.error("job %s failed at %s:\n%s", job.id, stage, tb)
            error = str(exc) if isinstance(exc, MedcamError) else f"{type(exc).__name__}: {exc}"
            self.publish(JobFailed(job.id, stage, error, hint_for(stage, exc), tb, time.perf_counter() - t0))
        finally:
            import keras

            scope.close()
            keras.backend.clear_session()

    def _distribution(self, job: Job) -> contextlib.AbstractContextManager[Any]:
        from medcam_core.train.strategy import job_scope

        preset = job.preset
        return job_scope(preset.strategy, preset.batch_size, lambda text: self.emit(Notice("info", text, job.id)))

    def _stage(self, job: Job, stage: str) -> str:
        request = self.control.stop_requested(job.id)
        if request:
            raise JobStop(*request)
        self.publish(StageStarted(job.id, stage))
        return stage

    def _progress(self, job_id: str, stage: str) -> Callable[[int, int], None]:
        last = [0.0]

        def report(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= self._throttle or done == total:
                last[0] = now
                self.emit(StageProgress(job_id, stage, done, total))

        return report

    def _load(self, job: Job) -> LoadedDataset:
        key = (job.dataset, job.preset.image_size, job.preset.seed)
        if self._data is None or self._data_key != key:
            self._data = self._features = None
            self._data = load_dataset(
                job.dataset, job.preset.image_size, job.preset.seed, self._progress(job.id, "load"), self.scratch
            )
            self._data_key = key
            for path, reason in self._data.skipped:
                log.warning("dataset %s: skipped %s: %s", job.dataset.name, path, reason)
            for note in self._data.notes:
                self.emit(Notice("info", f"dataset {job.dataset.name!r}: {note}", job.id))
        data = self._data
        self.emit(
            DatasetLoaded(
                job.id,
                data.counts(),
                data.patients(),
                len(data.skipped),
                data.skipped_reasons(),
                data.seconds,
            )
        )
        return data

    def _build(self, job: Job) -> tuple[Any, Any]:
        from medcam_core.train.model import build_model, resolve_weights, split_frozen

        t0 = time.perf_counter()
        weights = resolve_weights(job.preset.weights)
        built = build_model(job.preset, weights)
        split, why = split_frozen(built.model) if job.preset.cache_features else (None, "cache_features = false")
        total = len(built.model.layers)
        if weights is None and built.trainable_layers < total / 2 and job.preset.name not in self._warned:
            self._warned.add(job.preset.name)
            self.emit(
                Notice(
                    "warning",
                    f'preset {job.preset.name!r}: weights = "none" with {built.trainable_layers} '
                    f"of {total} layers trainable: the frozen layers keep random weights, "
                    "so accuracy will be limited.",
                    job.id,
                )
            )
        params = built.model.count_params()
        trainable = sum(int(w.numpy().size) for w in built.model.trainable_weights)
        path = "cached-features" if split else "plain"
        if not split:
            self.emit(Notice("info", f"training on images every epoch: {why}", job.id))
        self.emit(
            ModelBuilt(
                job.id,
                params,
                trainable,
                built.first_trainable,
                built.trainable_layers,
                path,
                time.perf_counter() - t0,
            )
        )
        return built, split

    def _feature_cache(self, job: Job, data: LoadedDataset, split: Any) -> Any:
        from medcam_core.train.fit import compute_features

        p = job.preset
        key = (job.dataset.name, p.image_size, p.seed, p.weights, p.trainable_layers, split.boundary)
        if self._features is not None and self._features.key == key:
            self.emit(Notice("info", f"re-using frozen features of {job.dataset.name} from the previous job", job.id))
            return self._features
        self._features = None
        self.publish(StageStarted(job.id, "features"))
        features = compute_features(
            split,
            data,
            max(p.batch_size, 32),
            key,
            self._progress(job.id, "features"),
            lambda: self.control.stop_requested(job.id) is not None,
            p.run_eagerly,
            self.scratch,
        )
        if features is None:
            raise JobStop(*self.control.stop_requested(job.id))
        self._features = features
        return features

    def _evaluate(self, job: Job, model: Any, data: LoadedDataset, features: Any, split: Any) -> tuple[dict, list]:
        from medcam_core.evaluate.metrics import evaluate
        from medcam_core.train.fit import predict

        probs = {name: predict(model, split, features, data, name, job.preset.batch_size) for name in ("val", "test")}
        test = data.splits["test"]
        metrics = evaluate(
            data.splits["val"].labels,
            probs["val"],
            test.labels,
            probs["test"],
            test.patients if job.dataset.patient_id else None,
            self.config.evaluation,
            job.preset.seed,
        )
        rows = [
            {"split": name, "path": path, "patient": patient, "label": int(label), "probability": float(prob)}
            for name in ("val", "test")
            for path, patient, label, prob in zip(
                data.splits[name].paths,
                data.splits[name].patients,
                data.splits[name].labels,
                probs[name],
                strict=True,
            )
        ]
        return metrics, rows

    def _explain(
        self, job: Job, model: Any, predictions: list, threshold: float, work: Path, cached: tuple | None
    ) -> dict[str, Any]:
        """Localisation figures on test positives with masks, and example panels for the report.

        With cached features (`cached` = frozen split, test features) the maps start from the features:
        the frozen layers already ran once for this dataset, and what follows is the model itself.
        """
        from medcam_core.explain.cam import GradCAM, feature_layers
        from medcam_core.explain.examples import (
            PLAN_LAYER,
            Item,
            explain,
            export,
            localisation,
            pick_examples,
            randomisation_check,
        )

        size = job.preset.image_size
        test = [p for p in predictions if p["split"] == "test"]
        present = [i for i, p in enumerate(test) if Path(p["path"]).is_file()]  # files can vanish
        positives = [i for i in present if test[i]["label"] == 1]
        usable = feature_layers(model)
        default = usable[-1]
        layers = [default] + ([PLAN_LAYER] if PLAN_LAYER in usable else [])
        start, features = None, None
        if cached is not None and set(layers) <= set(feature_layers(cached[0].head)):
            start, features = cached[0].boundary, cached[1]

        def run(cam: GradCAM, rows: list[int], target: str) -> list:
            items = [Item(Path(test[i]["path"]), int(test[i]["label"])) for i in rows]
            inputs = features.subset(rows) if features is not None else None
            return explain(cam, items, size, target=target, threshold=threshold, inputs=inputs)

        out: dict[str, Any] = {"default_layer": default, "target": "positive", "layers": {}}
        traced = not job.preset.run_eagerly
        cams = {layer: GradCAM(model, layer, traced=traced, start=start) for layer in layers}
        default_results = []
        for layer, cam in cams.items():
            results = run(cam, positives, "positive")
            if layer == default:
                default_results = results
            figures = localisation(results)
            if figures["n"]:
                out["layers"][layer] = figures
        if out["layers"]:
            out["note"] = "lesion masks of the synthetic data; chance level of the pointing game = mask_area_share"
            sample = default_results[:8]
            out["randomised_weights_rank_correlation"] = randomisation_check(
                model, default, [r.item for r in sample], size, np.stack([r.cam for r in sample]), traced
            )
        index = {test[i]["path"]: i for i in present}
        examples = [index[str(item.path)] for item in pick_examples([test[i] for i in present], threshold)]
        for result in run(cams[default], examples, "predicted"):
            export(result, work / "gradcam", default, threshold)
        out["examples"] = len(examples)
        return out

    def _save(
        self,
        job: Job,
        model: Any,
        work: Path,
        metrics: dict,
        predictions: list,
        history: dict,
        data: LoadedDataset,
    ) -> None:
        import keras

        models, results, configs = work / "models", work / "results", work / "configs"
        for folder in (models, results, configs, work / "gradcam"):
            folder.mkdir(parents=True, exist_ok=True)
        model.save(models / "model.keras")
        model.save(models / "model.h5")
        model.save_weights(models / "model.weights.h5")
        write_json_atomic(
            configs / "job_config.json",
            {
                "job": job.id,
                "dataset": asdict(job.dataset),
                "preset": asdict(job.preset),
                "evaluation": asdict(self.config.evaluation),
                "queue_config": self.config.source,
                "device": self.device,
                "versions": {"medcam": __version__, "keras": keras.__version__},
            },
        )
        metrics = {"job": job.id, "dataset": job.dataset.name, "preset": job.preset.name, **metrics}
        write_json_atomic(results / "metrics.json", metrics)
        write_json_atomic(results / "history.json", history)
        write_predictions(results / "predictions.csv", predictions)
        write_curves(results / "curves.png", history, f"{job.dataset.label} — {job.preset.name}")
        (work / "README.md").write_text(
            model_readme(job.id, job.dataset.label, asdict(job.preset), metrics, job.folder_name),
            encoding="utf-8",
        )

    def _discard(self, work: Path | None) -> None:
        if work is not None and work.exists():
            shutil.rmtree(work, ignore_errors=True)
        partial = self.output / PARTIAL_DIR
        if partial.is_dir() and not any(partial.iterdir()):
            with contextlib.suppress(OSError):  # another worker may just have started a job there
                partial.rmdir()
