"""Errors a user can act on: they carry enough to print one clear line, never a traceback."""

from __future__ import annotations


class MedcamError(Exception):
    """Base for errors whose message is meant for the user as-is; `hint` says what to try."""

    hint: str = ""


class ConfigError(MedcamError):
    """A queue config that cannot run: names the file, the key and what was expected."""

    def __init__(self, file: str, key: str, expected: str) -> None:
        self.file, self.key, self.expected = file, key, expected
        super().__init__(f"{file}: {key}: {expected}")


class DataError(MedcamError):
    """A dataset that cannot train (missing folder, one class, too few images)."""

    hint = "`medcam-tui data check` shows what the dataset holds; fix the folder or the dataset's config"


class ModelFileError(MedcamError):
    """A saved model that cannot be used: missing, damaged, or holding code that is never run."""


class WeightsUnavailableError(MedcamError):
    """Pretrained weights requested but not obtainable (offline, or a bad file)."""

    hint = 'provide the weights file or set weights = "none"'


class TrainingDiverged(MedcamError):
    """The training loss became NaN or infinite."""

    hint = "lower learning_rate (e.g. 1e-5) or look for corrupt images"
