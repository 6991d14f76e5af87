"""Saving and loading trained intent models.

Models are pickled together with a format name and version, and with the
scikit-learn version that built them, so that loading a file from another
program or an incompatible release fails with a message naming the file
instead of a confusing error deep inside scikit-learn.

Pickle executes code on load: only load model files this deployment wrote.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sklearn

from core.nlu.errors import ModelFileError

if TYPE_CHECKING:
    from core.nlu.intents import IntentModel

FORMAT_NAME: Final = "csbot.nlu.intent-model"
FORMAT_VERSION: Final = 1


def write_model(model: IntentModel, path: Path) -> None:
    """Pickle ``model`` to ``path``, creating parent folders."""
    envelope = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "sklearn_version": sklearn.__version__,
        "model": model,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        pickle.dump(envelope, handle, protocol=pickle.HIGHEST_PROTOCOL)
    temporary.replace(path)


def read_model(path: Path, expected: type[IntentModel]) -> IntentModel:
    """Load a model written by :func:`write_model`; raise ``ModelFileError`` if unusable."""
    envelope = _unpickle(path)
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT_NAME:
        raise ModelFileError(path, "not an intent model file")
    if envelope.get("version") != FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"intent model format version {envelope.get('version')!r} is not supported "
            f"(expected {FORMAT_VERSION}); retrain the model",
        )
    if envelope.get("sklearn_version") != sklearn.__version__:
        raise ModelFileError(
            path,
            f"model was built with scikit-learn {envelope.get('sklearn_version')}, "
            f"this installation has {sklearn.__version__}; retrain the model",
        )
    model = envelope.get("model")
    if not isinstance(model, expected):
        raise ModelFileError(path, "file does not contain an intent model")
    return model


def _unpickle(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError as error:
        raise ModelFileError(path, "model file not found") from error
    except IsADirectoryError as error:
        raise ModelFileError(path, "expected a model file, found a directory") from error
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError,
            IndexError, TypeError, ValueError) as error:
        raise ModelFileError(path, f"corrupt or unreadable model file ({type(error).__name__})") from error
