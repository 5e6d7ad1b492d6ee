"""Keep TensorFlow's C-level chatter (oneDNN, absl, CUDA probes) off the user's terminal.

TensorFlow writes those lines straight to file descriptor 2, below Python, and
`TF_CPP_MIN_LOG_LEVEL` does not silence all of them. Pointing fd 2 at the log file while Python's
`sys.stderr` keeps a duplicate of the terminal sends native noise to the log and our own messages
(and Textual's screen, which draws on `sys.__stderr__`) to the user.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def route_native_stderr(log_path: Path) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    terminal_fd = os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    terminal = os.fdopen(terminal_fd, "w", buffering=1, encoding="utf-8", errors="replace")
    sys.stderr = terminal
    sys.__stderr__ = terminal
