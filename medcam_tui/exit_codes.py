"""Exit statuses of every command, in one leaf module that anything may import."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # some jobs failed; `data check` found warnings
EXIT_CONFIG = 2  # bad input: config, paths, a model or dataset that cannot be used, output in use
EXIT_INTERNAL = 3  # a bug: one line on the terminal, the traceback in the log
EXIT_INTERRUPTED = 130
