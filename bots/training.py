"""`csbot train` and `csbot retrain`: the intent model's life cycle, wired to the database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TextIO

from core.botdef import load_bot
from core.learning.corrections import Correction
from core.learning.holdout import split_holdout
from core.learning.intent_data import load_intent_data
from core.learning.retraining import retrain
from core.learning.training import model_config, train_intent_model
from infra.db.engine import make_engine, make_sessions
from infra.db.migrate import upgrade
from infra.db.training_data import TrainingDataQueries
from infra.model_store import model_store
from infra.settings import Settings


def train(settings: Settings, out: TextIO, err: TextIO, *, seed: int, fraction: float) -> int:
    """Train from the bot's intents folder and install the model (in the database, or the file
    bot.yaml names), whatever it scores."""
    progress = _printer(err)
    bot = load_bot(settings.csbot_bot)
    data = load_intent_data(bot)
    progress(f"read {len(data.examples)} examples from {', '.join(p.name for p in data.files)}")
    split = split_holdout(data.examples, fraction=fraction, seed=seed)
    trained = train_intent_model(bot.definition.name, split, data_sha256=data.sha256, config=model_config(bot.definition, bot.folder),
                                 progress=progress)
    if settings.database_url.startswith("sqlite"):
        upgrade(settings.database_url)  # the zero-setup path, as `csbot run` does; servers run `csbot db upgrade`
    location = model_store(bot, settings.database_url).install(trained)
    out.write(f"held-out {trained.score.describe()}\n")
    out.write(f"installed new model at {location}\n")
    out.write(json.dumps(trained.card.to_dict(), sort_keys=True) + "\n")
    return 0


def retrain_command(settings: Settings, out: TextIO, err: TextIO) -> int:
    """Retrain with the database's corrections; install only if no worse. Exit 0 either way."""
    progress = _printer(err)
    bot = load_bot(settings.csbot_bot)
    data = load_intent_data(bot)
    progress(f"read {len(data.examples)} examples from {', '.join(p.name for p in data.files)}")
    corrections = asyncio.run(read_corrections(settings.database_url))
    progress(f"read {len(corrections)} intent corrections from the database")
    store = model_store(bot, settings.database_url)
    config = model_config(bot.definition, bot.folder)
    outcome = retrain(bot.definition.name, data, corrections, store, config=config, progress=progress)
    for line in outcome.report_lines():
        out.write(line + "\n")
    return 0


async def read_corrections(database_url: str) -> list[Correction]:
    engine = make_engine(database_url, pooled=False)
    try:
        return await TrainingDataQueries(make_sessions(engine)).corrections()
    finally:
        await engine.dispose()


def _printer(stream: TextIO) -> Callable[[str], None]:
    def progress(line: str) -> None:
        print(line, file=stream, flush=True)

    return progress
