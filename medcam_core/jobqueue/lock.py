"""One writer per output root: an flock on a lock file, released by the kernel when its holder dies.

The lock is the kernel's, not the file's content, so a holder killed with -9 leaves nothing to take
over and two starters can never both win. The file is never unlinked (a process could lock the
unlinked inode while another creates a new one); the holder's pid in it only names it in errors.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from medcam_core.errors import MedcamError

LOCK_FILE = ".medcam.lock"


class OutputLocked(MedcamError):
    pass


class OutputLock:
    def __init__(self, output: Path) -> None:
        self.path = Path(output) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        root = self.path.parent
        try:
            root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except (FileExistsError, NotADirectoryError):
            blocker = next((p for p in (root, *root.parents) if p.exists()), root)
            raise OutputLocked(f"{blocker} is a file, not a folder; choose another --output") from None
        except OSError as exc:
            raise OutputLocked(f"cannot open the lock file {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise OutputLocked(
                f"{root} is in use by another medcam-tui process (pid {holder}); "
                "watch it with `medcam-tui --attach` or choose another --output"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        """Clear the pid while still holding the lock, then let the kernel drop it with the descriptor."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
