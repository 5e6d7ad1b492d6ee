"""Run one job: its stages in order, each announced and checked for a stop request first; then the
folder committed whole. Any exception fails this job only, with its stage, a hint and the traceback
in the log; a stop request ends it as cancelled, skipped or interrupted."""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import traceback
from pathlib import Path

from medcam_core.config import Job
from medcam_core.errors import MedcamError
from medcam_core.events import JobFailed, JobFinished, JobStarted, JobStopped, StageStarted
from medcam_core.job.context import JobContext, JobStop
from medcam_core.job.environment import JobEnvironment
from medcam_core.job.stages import STAGES
from medcam_core.outputs.job_folder import PARTIAL_DIR, JobFolder, commit
from medcam_core.outputs.results import summarize
from medcam_core.vocabulary import Stage

log = logging.getLogger("medcam")
GENERIC_HINT = "see the traceback in medcam.log in the output folder"


def hint_for(stage: Stage, exc: BaseException) -> str:
    """One line telling the user what to try: the error's own hint when it has one."""
    if isinstance(exc, MedcamError) and exc.hint:
        return exc.hint
    tf = sys.modules.get("tensorflow")  # classify TensorFlow's errors without importing it for that
    if isinstance(exc, MemoryError) or (tf is not None and isinstance(exc, tf.errors.ResourceExhaustedError)):
        return "lower batch_size or image_size"
    if isinstance(exc, OSError) and stage == Stage.SAVE:
        return "check free disk space and write permission of the output folder"
    if isinstance(exc, OSError):
        return "a file could not be read or written; check that the paths exist and are readable"
    return GENERIC_HINT


def run_job(job: Job, env: JobEnvironment, position: tuple[int, int]) -> None:
    """`position` is (n, of N) in the queue, for the screens."""
    ctx = JobContext(job, env)
    index, total = position
    preset = job.preset
    env.publish(JobStarted(job.id, job.dataset.name, preset.name, index, total, preset.epochs, preset.monitor))
    stage = Stage.LOAD
    try:
        for stage, step in STAGES:
            ctx.check_stop()
            env.publish(StageStarted(job.id, stage))
            step(ctx)
        assert ctx.work is not None
        ctx.work.drop_work_state()
        folder = commit(env.output, ctx.work, job.folder_name)
        _discard(env.output, None)
        fitted = ctx.fitted
        assert ctx.metrics is not None
        summary = summarize(ctx.metrics)
        env.publish(JobFinished(job.id, summary, fitted.best_epoch, fitted.epochs_run, ctx.seconds, str(folder)))
    except JobStop as stop:
        if stop.status != "interrupted":  # an interrupted job keeps its backup and resumes next start
            _discard(env.output, ctx.work)
        env.control.clear_stop(job.id)
        env.publish(JobStopped(job.id, stop.status, stop.reason, ctx.seconds))
    except Exception as exc:
        _discard(env.output, ctx.work)
        tb = traceback.format_exc()
        log.error("job %s failed at %s:\n%s", job.id, stage, tb)
        error = str(exc) if isinstance(exc, MedcamError) else f"{type(exc).__name__}: {exc}"
        env.publish(JobFailed(job.id, stage, error, hint_for(stage, exc), tb, ctx.seconds))
    finally:
        import keras

        ctx.scope.close()
        keras.backend.clear_session()


def _discard(output: Path, work: JobFolder | None) -> None:
    """A stopped or failed job's work folder, and `.partial/` once it is empty."""
    if work is not None and work.root.exists():
        shutil.rmtree(work.root, ignore_errors=True)
    partial = output / PARTIAL_DIR
    if partial.is_dir() and not any(partial.iterdir()):
        with contextlib.suppress(OSError):  # another worker may just have started a job there
            partial.rmdir()
