"""Trained intent models on disk: one file per bot, swapped in atomically.

Layout: ``<model dir>/<bot name>/intents.pkl`` with the model card inside
the file, and ``intents.previous.pkl`` beside it holding the model it
replaced (for a manual rollback). The model dir is ``CSBOT_MODEL_DIR``, or
``.csbot/models`` under the working directory, next to the default SQLite
file. A bot whose bot.yaml names an ``intent_model`` file keeps its model
there instead (an explicit choice beats the default). Models are trained by ``csbot train`` / ``csbot retrain`` and the
periodic retrain job, never on the request path: loading only reads.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

from core.botdef import BOT_FILE, LoadedBot
from core.errors import ConfigError
from core.learning.model_card import ModelCard
from core.learning.ports import CurrentModel
from core.nlu.errors import ModelFileError
from core.nlu.intents import IntentModel
from core.nlu.model_file import read_model_and_metadata

if TYPE_CHECKING:  # training brings scikit-learn, which a serving process need not import
    from core.learning.training import TrainedModel

log = logging.getLogger(__name__)

MODEL_DIR_ENV: Final = "CSBOT_MODEL_DIR"
DEFAULT_MODEL_DIR: Final = Path(".csbot") / "models"
MODEL_FILE: Final = "intents.pkl"
PREVIOUS_FILE: Final = "intents.previous.pkl"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def model_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``CSBOT_MODEL_DIR`` if set, else ``.csbot/models`` in the working directory."""
    configured = (os.environ if environ is None else environ).get(MODEL_DIR_ENV, "").strip()
    return Path(configured) if configured else Path.cwd() / DEFAULT_MODEL_DIR


def model_path(bot: LoadedBot, root: Path | None = None) -> Path:
    """Where ``bot``'s intent model lives: bot.yaml's ``intent_model``, else under the model dir.

    In the model dir the bot name must be usable as a folder name.
    """
    if bot.intent_model_path is not None:
        return bot.intent_model_path
    name = bot.definition.name
    if not _SAFE_NAME.match(name):
        raise ConfigError(
            str(bot.folder / BOT_FILE), "name",
            f"{name!r} cannot name a model folder (use letters, digits, '_', '-', '.')",
        )
    return (root if root is not None else model_dir()) / name / MODEL_FILE


class FileModelStore:
    """The :class:`~core.learning.ports.IntentModelStore` of one bot, on the local file system."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_bot(cls, bot: LoadedBot, root: Path | None = None) -> FileModelStore:
        return cls(model_path(bot, root))

    def current(self) -> CurrentModel | None:
        """The installed model and its card; ``ModelFileError`` naming the file if unreadable."""
        if not self.path.exists():
            return None
        model, metadata = read_model_and_metadata(self.path, IntentModel)
        card = ModelCard.from_dict(metadata, source=str(self.path)) if metadata else None
        return CurrentModel(model, card, str(self.path))

    def install(self, trained: TrainedModel) -> str:
        """Keep a copy of the installed model, then rename the new file over it."""
        if self.path.exists():
            backup = self.path.with_name(f".{PREVIOUS_FILE}.tmp")
            shutil.copy2(self.path, backup)
            os.replace(backup, self.path.with_name(PREVIOUS_FILE))
        trained.model.save(self.path, trained.card.to_dict())
        return str(self.path)


def watch_intent_model(bot: LoadedBot, root: Path | None = None) -> WatchedIntentModel:
    """The bot's intent model as installed now and by every later (re)train."""
    return WatchedIntentModel(model_path(bot, root))


class WatchedIntentModel:
    """The bot's installed model, re-read when its file appears or is replaced (by a retrain in
    any process): an `IntentModelSource` for `core.nlu.NluPipeline`.

    Every process keeps serving with the model it has; at most every `every` seconds a `stat`
    of the file tells whether a new one was installed, which is then loaded in place. A file
    that cannot be read is logged and the model in hand kept (none at first): a bad install must
    not stop answers.
    """

    __slots__ = ("_checked", "_every", "_model", "_path", "_stamp")

    def __init__(self, path: Path, *, every: float = 10.0) -> None:
        self._path = path
        self._every = every
        self._model: IntentModel | None = None
        self._stamp: tuple[int, int] | None = None
        self._checked = time.monotonic()
        self._reload()

    def current(self) -> IntentModel | None:
        now = time.monotonic()
        if now - self._checked >= self._every:
            self._checked = now
            self._reload()
        return self._model

    def _reload(self) -> None:
        stamp = _stamp(self._path)
        if stamp is None or stamp == self._stamp:
            return
        self._stamp = stamp  # taken before loading: a file installed meanwhile is seen next time
        try:
            self._model = IntentModel.load(self._path)
            log.info("using the intent model %s", self._path)
        except ModelFileError as exc:
            log.error("intent model not used (keeping %s): %s", "the current one" if self._model else "none", exc)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_mtime_ns, info.st_size
