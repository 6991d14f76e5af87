"""Saving and loading trained intent models.

Models are pickled together with a format name and version, and with the
scikit-learn version that built them, so that loading a file from another
program or an incompatible release fails with a message naming the file
instead of a confusing error deep inside scikit-learn. An optional metadata
mapping (when and on what the model was trained, its held-out score) travels
in the same file, so a model and its description can never disagree.

Writes go to a uniquely named temporary file in the target folder, are
flushed to disk, then renamed over the target: a reader sees the old model
or the new one, never half a file, even with two writers at once.

Pickle executes code on load: only load model files this deployment wrote.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from importlib.metadata import version

from core.nlu.errors import ModelFileError

# The installed scikit-learn, read from its package metadata: importing it costs most of a second.
SKLEARN_VERSION: Final = version("scikit-learn")

if TYPE_CHECKING:
    from core.nlu.intents import IntentModel

FORMAT_NAME: Final = "csbot.nlu.intent-model"
FORMAT_VERSION: Final = 1
FILE_MODE: Final = 0o644
_UNPICKLING_ERRORS: Final = (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError)


def model_bytes(model: IntentModel, metadata: Mapping[str, Any] | None = None) -> bytes:
    """``model`` and ``metadata`` as the bytes a model file holds (for stores that are not files)."""
    return pickle.dumps(_envelope(model, metadata), protocol=pickle.HIGHEST_PROTOCOL)


def model_from_bytes(data: bytes, expected: type[IntentModel], source: str) -> tuple[IntentModel, dict[str, Any]]:
    """Load what :func:`model_bytes` made; ``ModelFileError`` naming ``source`` if unusable."""
    try:
        envelope = pickle.loads(data)
    except _UNPICKLING_ERRORS as error:
        raise ModelFileError(source, f"corrupt or unreadable model ({type(error).__name__})") from error
    return _checked(envelope, Path(source), expected)


def write_model(model: IntentModel, path: Path, metadata: Mapping[str, Any] | None = None) -> None:
    """Pickle ``model`` (and ``metadata``, plain JSON-like values) to ``path`` atomically."""
    envelope = _envelope(model, metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file owner-only; the serving processes may run as another user.
        os.chmod(temporary, FILE_MODE)
        with os.fdopen(descriptor, "wb") as handle:
            pickle.dump(envelope, handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_model(path: Path, expected: type[IntentModel]) -> IntentModel:
    """Load a model written by :func:`write_model`; raise ``ModelFileError`` if unusable."""
    return read_model_and_metadata(path, expected)[0]


def read_model_and_metadata(path: Path, expected: type[IntentModel]) -> tuple[IntentModel, dict[str, Any]]:
    """Load a model and its metadata (empty for files written without any)."""
    return _checked(_unpickle(path), path, expected)


def _envelope(model: IntentModel, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "sklearn_version": SKLEARN_VERSION,
        "metadata": dict(metadata or {}),
        "model": model,
    }


def _checked(envelope: Any, path: Path, expected: type[IntentModel]) -> tuple[IntentModel, dict[str, Any]]:
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT_NAME:
        raise ModelFileError(path, "not an intent model file")
    if envelope.get("version") != FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"intent model format version {envelope.get('version')!r} is not supported "
            f"(expected {FORMAT_VERSION}); retrain the model",
        )
    if envelope.get("sklearn_version") != SKLEARN_VERSION:
        raise ModelFileError(
            path,
            f"model was built with scikit-learn {envelope.get('sklearn_version')}, "
            f"this installation has {SKLEARN_VERSION}; retrain the model",
        )
    model = envelope.get("model")
    if not isinstance(model, expected):
        raise ModelFileError(path, "file does not contain an intent model")
    metadata = envelope.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ModelFileError(path, "model metadata is not a mapping")
    return model, metadata


def _unpickle(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError as error:
        raise ModelFileError(path, "model file not found") from error
    except IsADirectoryError as error:
        raise ModelFileError(path, "expected a model file, found a directory") from error
    except _UNPICKLING_ERRORS as error:
        raise ModelFileError(path, f"corrupt or unreadable model file ({type(error).__name__})") from error
