"""One writer per output root: a lock file holding the owner's pid, stale locks taken over."""

from __future__ import annotations

import os
from pathlib import Path

from medcam_core.errors import MedcamError

LOCK_FILE = ".medcam.lock"


class OutputLocked(MedcamError):
    pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    def __init__(self, output: Path) -> None:
        self.path = Path(output) / LOCK_FILE

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and pid != os.getpid() and _alive(pid):
                    raise OutputLocked(
                        f"{self.path.parent} is in use by another medcam-tui process (pid {pid}); "
                        "watch it with `medcam-tui --attach` or choose another --output"
                    ) from None
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            return
        raise OutputLocked(f"could not take the lock {self.path}")

    def release(self) -> None:
        try:
            if self.path.read_text().strip() == str(os.getpid()):
                self.path.unlink()
        except (OSError, ValueError):
            pass

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
