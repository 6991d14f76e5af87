"""The periodic retrain: one claim per interval across workers (on both databases), a model
installed by the job in the database, and running processes picking up a newly installed model."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.botdef import LoadedBot
from core.learning.intent_data import load_intent_data
from core.learning.schedule import PeriodicRetrain
from core.nlu.understanding import NluPipeline
from infra.db.bot_state import SqlBotState
from infra.model_store import FileModelStore, WatchedIntentModel, model_store
from tests.learning.conftest import bank_sample, make_bot
from tests.learning.test_model_store import rows, trained, wait_for
from tests.support.databases import migrated_sqlite


@pytest.fixture
def sessions(db_sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    return db_sessions


async def test_one_claim_per_interval_however_many_workers_ask(sessions: async_sessionmaker[AsyncSession]) -> None:
    claims = [SqlBotState(sessions) for _ in range(6)]  # six workers, one database
    first = await asyncio.gather(*(c.claim_period("retrain", timedelta(seconds=2)) for c in claims))
    assert sorted(first) == [False] * 5 + [True]
    again = await asyncio.gather(*(c.claim_period("retrain", timedelta(seconds=2)) for c in claims))
    assert not any(again)  # not due yet
    await asyncio.sleep(2.1)
    later = await asyncio.gather(*(c.claim_period("retrain", timedelta(seconds=2)) for c in claims))
    assert sorted(later) == [False] * 5 + [True]


def periodic(bot: LoadedBot, sessions: async_sessionmaker[AsyncSession], url: str, hours: float = 24.0) -> PeriodicRetrain:
    async def no_corrections() -> list:
        return []

    return PeriodicRetrain(bot.definition.name, interval=timedelta(hours=hours), claims=SqlBotState(sessions),
                           data=lambda: load_intent_data(bot), corrections=no_corrections,
                           store=model_store(bot, url))


async def test_the_job_installs_a_model_once_per_interval(
    small_bot: LoadedBot, sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    job = periodic(small_bot, sessions, db_url)
    outcome = await job.run_if_due()
    assert outcome is not None and outcome.installed and outcome.location == "intent_models[testbot v1]"
    current = model_store(small_bot, db_url).current()
    assert current is not None and current.model.predict("我的卡丢了").intent == "lost_or_stolen_card"
    assert await periodic(small_bot, sessions, db_url).run_if_due() is None  # another worker, same interval


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_off_and_data_less_bots_do_nothing(sessions: async_sessionmaker[AsyncSession], db_url: str, tmp_path: Path) -> None:
    bot = make_bot(tmp_path / "bot", bank_sample())
    assert await periodic(bot, sessions, db_url, hours=0).run_if_due() is None
    assert rows(db_url) == []
    for csv in (bot.folder / "intents").glob("*.csv"):
        csv.unlink()
    assert await periodic(bot, sessions, db_url).run_if_due() is None  # logged and skipped
    assert rows(db_url) == []


def test_a_process_watching_a_named_file_picks_up_a_new_one_and_survives_a_broken_one(small_bot: LoadedBot, tmp_path: Path) -> None:
    store = FileModelStore(tmp_path / "intents.pkl")
    watched = WatchedIntentModel(store, every=0.0)
    nlu = NluPipeline(watched)
    assert watched.current() is None and not nlu.analyze("I lost my card").classified  # none trained yet

    store.install(trained(small_bot))
    wait_for(watched, "lost_or_stolen_card")

    other = make_bot(tmp_path / "other", [(text, f"renamed_{label}") for text, label in bank_sample()])
    store.install(trained(other))
    stat = store.path.stat()
    os.utime(store.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # coarse file-system clocks
    wait_for(watched, "renamed_lost_or_stolen_card")

    store.path.write_bytes(b"not a model")  # a broken install: keep answering with the model in hand
    os.utime(store.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000))
    for _ in range(20):  # give the background checks time to see (and refuse) the broken file
        watched.current()
        time.sleep(0.05)
    assert nlu.analyze("I lost my card").intent == "renamed_lost_or_stolen_card"


async def test_the_worker_job_retrains_with_the_runtime_wiring(small_bot: LoadedBot, tmp_path: Path) -> None:
    from bots.runtime import build_runtime
    from infra.settings import load_settings
    from workers import jobs

    url = migrated_sqlite(tmp_path / "rt.db")
    settings = load_settings(database_url=url, redis_url=None, llm_base_url=None, csbot_bot=small_bot.folder)
    runtime = await build_runtime(settings)
    try:
        assert await jobs.retrain(runtime.services) == 1  # what the Celery task runs
        assert await jobs.retrain(runtime.services) == 0  # not due again this interval
    finally:
        await runtime.close()
    assert [(bot, version, active) for bot, version, active, _ in rows(url)] == [("testbot", 1, True)]


async def test_a_model_file_named_in_bot_yaml_is_never_retrained_over(small_bot: LoadedBot, tmp_path: Path) -> None:
    from bots.runtime import build_runtime
    from core.botdef import load_bot
    from infra.settings import load_settings
    from workers import jobs

    bot_file = small_bot.folder / "bot.yaml"
    bot_file.write_text(bot_file.read_text(encoding="utf-8") + "intent_model: chosen.pkl\n", encoding="utf-8")
    bot = load_bot(small_bot.folder)
    FileModelStore(bot.folder / "chosen.pkl").install(trained(bot))
    before = (small_bot.folder / "chosen.pkl").read_bytes()
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/rt.db", redis_url=None, llm_base_url=None,
                             csbot_bot=small_bot.folder)
    runtime = await build_runtime(settings)
    try:
        assert await jobs.retrain(runtime.services) == 0
    finally:
        await runtime.close()
    assert (small_bot.folder / "chosen.pkl").read_bytes() == before
    assert not (small_bot.folder / "intents.previous.pkl").exists()
