"""Trained intent models: in the database (`intent_models`), or in the file bot.yaml names.

By default a bot's models live in the database the bot already uses, so every web and worker
pod loads the same model without a shared (ReadWriteMany) volume: `csbot train` and the retrain
job add a version and make it the active one, the versions before it stay for a rollback. A bot
whose bot.yaml names an ``intent_model`` file keeps its model there instead (an explicit choice
beats the default; the replaced file is kept as ``intents.previous.pkl`` beside it). Models are
trained by ``csbot train`` / ``csbot retrain`` and the periodic retrain job, never on the request
path: serving only reads, and notices a newly installed model within seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
import time
from collections.abc import Coroutine, Hashable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from core.botdef import LoadedBot
from core.learning.model_card import ModelCard
from core.learning.ports import CurrentModel
from core.nlu.errors import ModelFileError
from core.nlu.intents import IntentModel
from core.nlu.model_file import read_model_and_metadata
from infra.db.engine import make_engine, make_sessions
from infra.db.intent_models import SqlIntentModels, model_location

if TYPE_CHECKING:  # training brings scikit-learn, which a serving process need not import
    from core.learning.training import TrainedModel

log = logging.getLogger(__name__)

PREVIOUS_FILE: Final = "intents.previous.pkl"
# How often a serving process asks whether a new model was installed.
WATCH_SECONDS: Final = 10.0

T = TypeVar("T")


class FileModelStore:
    """The :class:`~core.learning.ports.IntentModelStore` of one bot, in one file."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

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

    def stamp(self) -> Hashable | None:
        """Changes whenever the file is replaced; None while there is none."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_size

    def load(self) -> IntentModel:
        return IntentModel.load(self.path)

    def __repr__(self) -> str:
        return str(self.path)


class DatabaseModelStore:
    """The :class:`~core.learning.ports.IntentModelStore` of one bot, in the `intent_models` table.

    The interface is synchronous (retraining runs in a thread, `csbot train` has no event loop);
    each call runs on a short-lived loop of its own with unpooled connections, so it works from
    any thread and never touches a running loop's connections.
    """

    __slots__ = ("bot", "_models")

    def __init__(self, bot: str, database_url: str) -> None:
        self.bot = bot
        self._models = SqlIntentModels(make_sessions(make_engine(database_url, pooled=False)))

    def current(self) -> CurrentModel | None:
        stored = _blocking(self._models.active(self.bot))
        if stored is None:
            return None
        model, metadata = IntentModel.from_bytes(stored.data, stored.location)
        card = ModelCard.from_dict(metadata, source=stored.location) if metadata else None
        return CurrentModel(model, card, stored.location)

    def install(self, trained: TrainedModel) -> str:
        """Add the model as the next version and make it the active one, in one transaction."""
        card = trained.card.to_dict()
        version = _blocking(self._models.add(self.bot, trained.model.to_bytes(card), card))
        return model_location(self.bot, version)

    def stamp(self) -> Hashable | None:
        """The active version: one indexed lookup, cheap enough to poll."""
        return _blocking(self._models.active_version(self.bot))

    def load(self) -> IntentModel:
        current = self.current()
        if current is None:
            raise ModelFileError(repr(self), "no active model")
        return current.model

    def __repr__(self) -> str:
        return f"intent_models[{self.bot}]"


ModelStore = FileModelStore | DatabaseModelStore


def model_store(bot: LoadedBot, database_url: str) -> ModelStore:
    """Where `bot`'s intent model lives: the file bot.yaml names, else the database."""
    if bot.intent_model_path is not None:
        return FileModelStore(bot.intent_model_path)
    return DatabaseModelStore(bot.definition.name, database_url)


def watch_intent_model(bot: LoadedBot, database_url: str) -> WatchedIntentModel:
    """The bot's intent model as installed now and by every later (re)train."""
    return WatchedIntentModel(model_store(bot, database_url))


class WatchedSource(Protocol):
    def stamp(self) -> Hashable | None:
        """Something that changes when a new model is installed; None while there is none."""

    def load(self) -> IntentModel:
        """The installed model; ``ModelFileError`` when it cannot be used."""


class WatchedIntentModel:
    """The bot's installed model, reloaded when a (re)train in any process installs another:
    an `IntentModelSource` for `core.nlu.NluPipeline`.

    The first model is loaded when the process starts. After that `current()` never waits: at
    most every `every` seconds it starts a background check of the store's stamp (the active
    version, or the file's mtime) and returns the model in hand; a changed stamp loads the new
    model, which later calls return. A model or database that cannot be read is logged and the
    model in hand kept (none at first): a bad install must not stop answers. The same failure is
    logged once, not at every check (`csbot eval answers` on a database without the tables
    would otherwise log it every few seconds).
    """

    __slots__ = ("_checked", "_every", "_failure", "_model", "_refreshing", "_source", "_stamp")

    def __init__(self, source: WatchedSource, *, every: float = WATCH_SECONDS) -> None:
        self._source = source
        self._every = every
        self._model: IntentModel | None = None
        self._stamp: Hashable | None = None
        self._failure: str | None = None  # the last failure logged
        self._refreshing = threading.Lock()
        self._checked = time.monotonic()
        with self._refreshing:
            self._refresh()

    def current(self) -> IntentModel | None:
        now = time.monotonic()
        if now - self._checked >= self._every and self._refreshing.acquire(blocking=False):
            self._checked = now
            threading.Thread(target=self._refresh_then_release, name="intent-model-watch", daemon=True).start()
        return self._model

    def _refresh_then_release(self) -> None:
        try:
            self._refresh()
        finally:
            self._refreshing.release()

    def _refresh(self) -> None:
        try:
            stamp = self._source.stamp()
            self._failure = None
            if stamp is None or stamp == self._stamp:
                return
            self._stamp = stamp  # taken before loading: a model installed meanwhile is seen next time
            self._model = self._source.load()
            log.info("using the intent model from %r (%s)", self._source, stamp)
        except (ModelFileError, SQLAlchemyError, OSError) as exc:
            if str(exc) != self._failure:
                log.error("intent model not used (keeping %s): %s", "the current one" if self._model else "none", exc)
            self._failure = str(exc)


def _blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion on a loop of its own, whether or not this thread runs one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
