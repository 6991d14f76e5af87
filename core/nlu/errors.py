"""Typed errors raised by the NLU package.

Callers (CLI, workers, the conversation engine) need to tell apart "the
operator pointed us at a bad file" from programming errors, so every
failure the package anticipates derives from :class:`NluError`.
"""

from __future__ import annotations

from pathlib import Path


class NluError(Exception):
    """Base class for every anticipated NLU failure."""


class TrainingDataError(NluError, ValueError):
    """The labelled examples cannot train a model (empty, one label, ...)."""


class DatasetFileError(NluError):
    """A dataset file is missing, unreadable or not in a supported layout.

    The path is kept so that a CLI can point the operator at the exact file.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ModelFileError(NluError):
    """A saved intent model is missing, corrupt or from an incompatible format."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
