"""`[queue] on_job_end`: a user's shell command run after each job, for servers where nobody watches.

The job's id, status, test AUROC and folder reach it in environment variables, never spliced into the
command line (a dataset name must not become shell code). Its output goes to medcam.log, not to the
terminal a TUI is drawing on. Whatever it does — a non-zero exit, a hang past the timeout, a program
that is not there — the queue goes on: the failure comes back as a warning `Notice`, never an exception.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from medcam_core.events import Event, JobFailed, JobFinished, JobStopped, Notice
from medcam_core.safe_text import printable
from medcam_core.vocabulary import Status

log = logging.getLogger("medcam")
TAIL_CHARS = 200  # of the command's stderr, quoted in the warning


@dataclass(frozen=True)
class JobEnd:
    """What the command is told about the job that just ended."""

    job_id: str
    status: str  # done, failed, cancelled, skipped or interrupted (stopped by quitting; it runs again)
    auroc: float | None = None
    folder: str = ""  # the finished job's folder; empty for a job that did not finish

    @staticmethod
    def of(event: Event) -> JobEnd | None:
        if isinstance(event, JobFinished):
            return JobEnd(event.job_id, Status.DONE, event.metrics.get("auroc"), event.folder)
        if isinstance(event, JobFailed):
            return JobEnd(event.job_id, Status.FAILED)
        if isinstance(event, JobStopped):
            return JobEnd(event.job_id, event.status)
        return None

    def environment(self) -> dict[str, str]:
        auroc = "" if self.auroc is None else repr(float(self.auroc))
        return {
            "MEDCAM_JOB_ID": self.job_id,
            "MEDCAM_JOB_STATUS": str(self.status),
            "MEDCAM_TEST_AUROC": auroc,
            "MEDCAM_JOB_FOLDER": self.folder,
        }


class JobEndHook:
    """Runs the command (through the shell, in the output root) for each job-ending event."""

    def __init__(self, command: str, timeout_s: float, cwd: Path) -> None:
        self.command, self.timeout_s, self.cwd = command, timeout_s, cwd

    def __call__(self, event: Event) -> Notice | None:
        """The warning to show when the command failed; None when it succeeded or had nothing to do."""
        end = JobEnd.of(event) if self.command else None
        if end is None:
            return None
        problem = self._run(end)
        if problem is None:
            return None
        message = f"on_job_end after {end.job_id} ({end.status}) {problem}; the queue goes on"
        log.warning("%s", message)
        return Notice("warning", message, job_id=end.job_id)

    def _run(self, end: JobEnd) -> str | None:
        try:
            proc = subprocess.Popen(
                self.command,
                shell=True,
                cwd=self.cwd if self.cwd.is_dir() else None,
                env={**os.environ, **end.environment()},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group: a timeout stops what it started too
            )
        except OSError as exc:
            return f"could not start: {exc.strerror or exc}"
        try:
            out, err = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                proc.communicate(timeout=5)  # a grandchild in its own session may still hold the pipes
            except subprocess.TimeoutExpired:
                pass
            return f"did not finish within {self.timeout_s:g} s and was stopped"
        text = err.decode("utf-8", "replace").strip()
        log.info("on_job_end after %s exited %d\n%s%s", end.job_id, proc.returncode, out.decode(errors="replace"), text)
        if proc.returncode == 0:
            return None
        why = f": {printable(text.splitlines()[-1])[-TAIL_CHARS:]}" if text else ""
        return f"exited with status {proc.returncode}{why}"


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):  # no process groups (Windows), or gone
        proc.kill()
