"""Several jobs at once, each in its own process: spawned locally (`--parallel N`) or as Ray tasks.

The job is the unit of scale: a worker runs one job through the very stages of the local runner
and sends its events back as JSON lines; the driver applies them to the queue state (one writer of
the progress file) and hands them to the usual sinks, so the event log, console and TUI see every
job as if it ran here. Per job, events keep their order (one FIFO per queue). A worker that dies
fails its job and keeps its partial work, so a retry resumes it; a cancel or skip kills the worker.
"""

from __future__ import annotations

import logging
import os
import queue as stdlib_queue
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from medcam_core.config import Job, QueueConfig
from medcam_core.errors import ConfigError
from medcam_core.events import Event, JobFailed, JobStarted, JobStopped, Notice
from medcam_core.jobqueue.control import QueueControl
from medcam_core.jobqueue.state import JobQueue
from medcam_core.outputs.job_folder import PARTIAL_DIR
from medcam_core.vocabulary import Stage, Status

log = logging.getLogger(__name__)


class Driver(Protocol):
    """What the remote executor needs of the queue runner (which imports this module, not vice versa)."""

    config: QueueConfig
    output: Path
    control: QueueControl
    queue: JobQueue

    def next_job(self) -> Job | None: ...

    def publish(self, event: Event) -> None: ...


def run_job_in_worker(config: QueueConfig, job_id: str, send: Callable[[str], None]) -> None:
    """The body of every worker: one job through the same pipeline as a local one, events out as JSON.

    The driver keeps the queue state, so here publishing a job's events is only sending them; it
    also puts the job at its place in the queue.
    """
    from medcam_core.job.environment import JobEnvironment
    from medcam_core.job.run import run_job

    job = config.job_by_id(job_id)
    send(Notice("info", f"{job_id} runs in process {os.getpid()} on {socket.gethostname()}", job_id).to_json())

    def out(event: Event) -> None:
        send(event.to_json())

    env = JobEnvironment(config, out, out, QueueControl())
    late = env.prepare()
    if late:
        out(Notice("warning", late, job_id))
    run_job(job, env, (1, 1))


def _process_entry(config: QueueConfig, job_id: str, events: Any, gpu: str | None) -> None:
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu  # before TensorFlow is imported in this process
    run_job_in_worker(config, job_id, events.put)


def _ray_entry(config: QueueConfig, job_id: str, events: Any) -> None:
    run_job_in_worker(config, job_id, events.put)


class Transport(Protocol):
    def submit(self, config: QueueConfig, job_id: str, slot: int) -> Any: ...

    def finished(self, handle: Any) -> str | None | bool:
        """False while running; then None for a clean exit, or what went wrong."""

    def kill(self, handle: Any) -> None: ...

    def drain(self) -> list[str]: ...

    def close(self) -> None: ...


class ProcessTransport:
    """Spawned processes on this machine; with GPUs, job slot k sees only GPU k."""

    def __init__(self, gpus: int) -> None:
        import multiprocessing

        self._ctx = multiprocessing.get_context("spawn")
        self._manager = self._ctx.Manager()  # a proxy queue survives a producer killed mid-put
        self._events = self._manager.Queue()
        self._gpus = gpus

    def submit(self, config: QueueConfig, job_id: str, slot: int) -> Any:
        gpu = str(slot % self._gpus) if self._gpus else None
        process = self._ctx.Process(target=_process_entry, args=(config, job_id, self._events, gpu), daemon=True)
        process.start()
        return process

    def finished(self, handle: Any) -> str | None | bool:
        if handle.is_alive():
            return False
        return None if handle.exitcode == 0 else f"the worker process exited with code {handle.exitcode}"

    def kill(self, handle: Any) -> None:
        handle.kill()
        handle.join(10)

    def drain(self) -> list[str]:
        lines = []
        while True:
            try:
                lines.append(self._events.get_nowait())
            except stdlib_queue.Empty:
                return lines

    def close(self) -> None:
        self._manager.shutdown()


def start_process_support() -> None:
    """Start multiprocessing's resource tracker now, on the main thread, before a UI takes the terminal.

    Otherwise the first spawned worker starts it and hands it sys.stderr's file descriptor; under
    Textual sys.stderr is a capture whose fileno() is -1, and the spawn fails with "bad value(s) in
    fds_to_keep".
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


def connect_ray(config: QueueConfig) -> bool:
    """Start or join Ray; True when this call started it. Best called on the main thread, before a
    UI owns the terminal: Ray wants real stdout/stderr file descriptors and its signal handlers."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            config.source, "queue.executor", "the ray executor needs Ray: pip install 'medcam-tui[ray]'"
        ) from None
    if ray.is_initialized():
        return False
    address = config.ray_address or None
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
        raise ConfigError(config.source, "queue.ray_address", f"cannot start or reach {where}: {exc}") from None
    return True


class RayTransport:
    """Ray tasks on a local instance or a cluster; each task asks for its CPUs and GPUs."""

    def __init__(self, config: QueueConfig, cpus_per_job: float, gpus_per_job: float) -> None:
        import ray
        from ray.util.queue import Queue

        self._ray = ray
        self._started = connect_ray(config)
        self._events = Queue()
        self._task = ray.remote(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_calls=1, max_retries=0)(_ray_entry)

    def submit(self, config: QueueConfig, job_id: str, slot: int) -> Any:
        return self._task.remote(config, job_id, self._events)

    def finished(self, handle: Any) -> str | None | bool:
        ready, _ = self._ray.wait([handle], timeout=0)
        if not ready:
            return False
        try:
            self._ray.get(handle)
        except Exception as exc:  # a dead worker or node: the job fails, the queue goes on
            return f"the Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return None

    def kill(self, handle: Any) -> None:
        self._ray.cancel(handle, force=True)

    def drain(self) -> list[str]:
        size = self._events.qsize()
        return self._events.get_nowait_batch(size) if size else []

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


class RemoteJobs:
    """The driver: keeps up to `parallel` workers busy and publishes their events through the runner."""

    def __init__(self, runner: Driver, transport: Transport, parallel: int, poll_s: float = 0.05) -> None:
        self.runner, self.transport, self.parallel, self.poll_s = runner, transport, parallel, poll_s
        self._running: dict[str, tuple[Any, int, float]] = {}

    def run(self) -> None:
        control, queue = self.runner.control, self.runner.queue
        try:
            while True:
                self._forward()
                self._reap()
                if control.quitting:
                    for job_id in list(self._running):
                        self._stop(job_id, "interrupted", "the queue was stopped", discard=False)
                    break
                while not control.paused and len(self._running) < self.parallel:
                    job = self.runner.next_job()
                    if job is None:
                        break
                    self._start(job)
                if not self._running and not control.paused and queue.next_queued() is None:
                    break
                time.sleep(self.poll_s)
        finally:
            self.transport.close()

    def _start(self, job: Job) -> None:
        slot = min(set(range(self.parallel)) - {s for _, s, _ in self._running.values()})
        # taken now, so it is not started twice; the worker's JobStarted records the attempt
        self.runner.queue.update(job.id, status=Status.RUNNING, stage=Stage.LOAD, error="", hint="")
        self._running[job.id] = (self.transport.submit(self.runner.config, job.id, slot), slot, time.perf_counter())

    def _forward(self) -> None:
        for line in self.transport.drain():
            event = Event.from_json(line)
            job_id = getattr(event, "job_id", None)
            if job_id is not None and job_id not in self._running:
                continue  # late lines of a worker that was stopped
            if isinstance(event, JobStarted):  # the worker only knows its own one-job queue
                ids = [e["id"] for e in self.runner.queue.snapshot()]
                event = replace(event, index=ids.index(event.job_id) + 1, total=len(ids))
            elif isinstance(event, JobFailed):
                log.error("job %s failed at %s (in a worker):\n%s", event.job_id, event.stage, event.traceback)
            self.runner.publish(event)

    def _reap(self) -> None:
        for job_id, (handle, _, t0) in list(self._running.items()):
            request = self.runner.control.stop_requested(job_id)
            if request is not None:
                self._stop(job_id, *request, discard=request[0] != "interrupted")
                continue
            outcome = self.transport.finished(handle)
            if outcome is False:
                continue
            self._forward()
            del self._running[job_id]
            entry = self.runner.queue.get(job_id)
            if entry.status == Status.RUNNING:  # no JobFinished or JobFailed came: the worker was lost
                hint = "the worker was lost (killed, out of memory, or its node left); retry resumes its partial work"
                reason = outcome or "the worker ended without reporting a result"
                self.runner.publish(JobFailed(job_id, entry.stage, reason, hint, "", time.perf_counter() - t0))

    def _stop(self, job_id: str, status: str, reason: str, discard: bool) -> None:
        handle, _, t0 = self._running.pop(job_id)
        self.transport.kill(handle)
        self._forward()
        self.runner.control.clear_stop(job_id)
        if discard:
            folder = self.runner.config.job_by_id(job_id).folder_name
            shutil.rmtree(self.runner.output / PARTIAL_DIR / folder, ignore_errors=True)
        self.runner.publish(JobStopped(job_id, status, reason, time.perf_counter() - t0))


def make_transport(config: QueueConfig, gpus: int) -> Transport:
    if config.executor == "ray":
        gpus_per_job = config.gpus_per_job if config.gpus_per_job is not None else (1.0 if gpus else 0.0)
        return RayTransport(config, config.cpus_per_job, gpus_per_job)
    return ProcessTransport(gpus)
