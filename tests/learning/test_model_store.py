"""Intent models in the database (both backends) or in the file bot.yaml names: what they carry,
how they are swapped, versions kept, and how the bot loads them."""

from __future__ import annotations

import asyncio
import pickle
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from core.botdef import LoadedBot
from core.learning.holdout import split_holdout
from core.learning.intent_data import load_intent_data
from core.learning.model_card import ModelCard
from core.learning.training import TrainedModel, train_intent_model
from core.nlu.errors import ModelFileError
from core.nlu.intents import IntentModel
from infra.db.engine import make_engine, make_sessions
from infra.db.intent_models import KEEP
from infra.db.models import IntentModelRow
from sqlalchemy.exc import OperationalError

from infra.model_store import DatabaseModelStore, FileModelStore, WatchedIntentModel, model_store, watch_intent_model
from tests.conftest import run_in_thread


def trained(bot: LoadedBot) -> TrainedModel:
    data = load_intent_data(bot)
    return train_intent_model(bot.definition.name, split_holdout(data.examples), data_sha256=data.sha256)


def rows(url: str) -> list[tuple[str, int, bool, dict]]:
    async def read() -> list[tuple[str, int, bool, dict]]:
        engine = make_engine(url, pooled=False)
        try:
            async with make_sessions(engine)() as session:
                found = await session.execute(
                    select(IntentModelRow.bot, IntentModelRow.version, IntentModelRow.active, IntentModelRow.metrics)
                    .order_by(IntentModelRow.bot, IntentModelRow.version)
                )
                return [tuple(row) for row in found]
        finally:
            await engine.dispose()

    return run_in_thread(read())


def named_file(bot: LoadedBot, name: str = "models/intents.pkl") -> LoadedBot:
    return bot.model_copy(update={"definition": bot.definition.model_copy(update={"intent_model": name})})


def test_the_default_store_is_the_database_and_a_bot_yaml_file_beats_it(small_bot: LoadedBot, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    assert isinstance(model_store(small_bot, url), DatabaseModelStore)
    store = model_store(named_file(small_bot), url)
    assert isinstance(store, FileModelStore) and store.path == small_bot.folder / "models" / "intents.pkl"


def test_install_and_load_in_the_database(small_bot: LoadedBot, db_url: str) -> None:
    assert watch_intent_model(small_bot, db_url).current() is None
    new = trained(small_bot)
    location = model_store(small_bot, db_url).install(new)
    assert location == "intent_models[testbot v1]"
    model = watch_intent_model(small_bot, db_url).current()
    assert isinstance(model, IntentModel)
    assert model.predict("I lost my card, someone must have stolen it").intent == "lost_or_stolen_card"
    assert model.predict("我的卡丢了").intent == "lost_or_stolen_card"
    [(bot, version, active, metrics)] = rows(db_url)
    assert (bot, version, active) == ("testbot", 1, True)
    assert ModelCard.from_dict(metrics, source="row") == new.card  # queryable without unpickling


def test_the_card_travels_with_the_model(small_bot: LoadedBot, db_url: str) -> None:
    new = trained(small_bot)
    store = model_store(small_bot, db_url)
    store.install(new)
    current = store.current()
    assert current is not None and current.card == new.card and current.location == "intent_models[testbot v1]"
    card = current.card
    assert card.bot == "testbot" and card.n_labels == 12 and card.n_corrections == 0
    assert card.n_examples + card.n_held_out == 12 * 30 + 3
    assert 0.5 < card.held_out_accuracy <= 1.0
    assert card.trained_at.endswith("+00:00")
    import sklearn

    assert card.sklearn_version == sklearn.__version__


def test_each_install_is_a_new_active_version_and_old_ones_are_pruned(small_bot: LoadedBot, db_url: str) -> None:
    store = model_store(small_bot, db_url)
    model = trained(small_bot)
    other = model_store(small_bot.model_copy(update={"definition": small_bot.definition.model_copy(update={"name": "other"})}), db_url)
    other.install(model)
    for _ in range(KEEP + 2):
        store.install(model)
    listed = [(bot, version, active) for bot, version, active, _ in rows(db_url)]
    assert listed == [("other", 1, True)] + [("testbot", v, v == KEEP + 2) for v in range(3, KEEP + 3)]


@pytest.mark.parametrize("backend", ["postgres"])
def test_installs_at_once_each_get_a_version_and_one_is_active(small_bot: LoadedBot, db_url: str) -> None:
    model = trained(small_bot)

    async def install_many() -> list[str]:
        stores = [model_store(small_bot, db_url) for _ in range(4)]
        return await asyncio.gather(*(asyncio.to_thread(s.install, model) for s in stores))

    locations = run_in_thread(install_many())
    assert sorted(locations) == [f"intent_models[testbot v{v}]" for v in range(1, 5)]
    assert [active for *_, active, _ in rows(db_url)].count(True) == 1


def test_a_corrupt_stored_model_is_named_not_ignored(small_bot: LoadedBot, db_url: str) -> None:
    store = model_store(small_bot, db_url)
    store.install(trained(small_bot))

    async def corrupt() -> None:
        engine = make_engine(db_url, pooled=False)
        try:
            async with make_sessions(engine).begin() as session:
                (await session.scalars(select(IntentModelRow))).one().model = b"not a pickle"
        finally:
            await engine.dispose()

    run_in_thread(corrupt())
    with pytest.raises(ModelFileError, match=r"intent_models\[testbot v1\]: corrupt or unreadable model"):
        store.current()


def test_an_unmigrated_database_leaves_the_bot_without_intents(small_bot: LoadedBot, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    assert watch_intent_model(small_bot, f"sqlite+aiosqlite:///{tmp_path}/empty.db").current() is None
    assert "intent model not used" in caplog.text and "intent_models" in caplog.text


def test_a_store_that_keeps_failing_the_same_way_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    failures = iter(["no such table: intent_models"] * 3 + ["database is locked"])

    class Broken:
        def stamp(self) -> object:
            raise OperationalError("SELECT", {}, Exception(next(failures)))

        def load(self) -> IntentModel:
            raise AssertionError("never reached")

    watched = WatchedIntentModel(Broken(), every=0.0)
    for _ in range(3):
        watched._refresh()  # what the background check runs
    logged = [r.getMessage() for r in caplog.records if "intent model not used" in r.getMessage()]
    assert len(logged) == 2 and "no such table" in logged[0] and "database is locked" in logged[1]


def test_a_file_install_keeps_the_replaced_model_beside_the_new_one(small_bot: LoadedBot) -> None:
    store = FileModelStore(small_bot.folder / "models" / "intents.pkl")
    store.install(trained(small_bot))
    first = store.path.read_bytes()
    store.install(trained(small_bot))
    assert (store.path.parent / "intents.previous.pkl").read_bytes() == first
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["intents.pkl", "intents.previous.pkl"]
    assert oct(store.path.stat().st_mode & 0o777) == oct(0o644)


def test_a_corrupt_model_file_is_named_not_ignored(tmp_path: Path) -> None:
    path = tmp_path / "intents.pkl"
    path.write_bytes(b"not a pickle")
    with pytest.raises(ModelFileError, match="intents.pkl"):
        IntentModel.load(path)


def test_a_card_with_a_missing_field_names_the_file_and_field(small_bot: LoadedBot, tmp_path: Path) -> None:
    store = FileModelStore(tmp_path / "intents.pkl")
    store.install(trained(small_bot))
    envelope = pickle.loads(store.path.read_bytes())
    del envelope["metadata"]["split_seed"]
    store.path.write_bytes(pickle.dumps(envelope))
    with pytest.raises(ModelFileError, match=r"intents\.pkl: model metadata lacks field 'split_seed'"):
        store.current()


def test_a_model_saved_without_a_card_still_loads(small_bot: LoadedBot, tmp_path: Path) -> None:
    store = FileModelStore(tmp_path / "intents.pkl")
    trained(small_bot).model.save(store.path)
    current = store.current()
    assert current is not None and current.card is None


def test_card_round_trip_rejects_wrong_types() -> None:
    card = ModelCard("b", "2024-01-01T00:00:00+00:00", 10, 0, 2, 2, 1.0, 1.0, 0, 0.1, 0.5, "1.5", "ab")
    assert ModelCard.from_dict(card.to_dict(), source="x.pkl") == card
    with pytest.raises(ModelFileError, match="'n_examples' has the wrong type"):
        ModelCard.from_dict({**card.to_dict(), "n_examples": "10"}, source="x.pkl")


def test_an_intent_model_named_in_bot_yaml_takes_precedence(small_bot: LoadedBot, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    named = named_file(small_bot)
    model_store(named, url).install(trained(small_bot))
    assert (small_bot.folder / "models" / "intents.pkl").is_file()
    assert watch_intent_model(named, url).current() is not None
    assert not Path(f"{tmp_path}/x.db").exists()  # the database was never asked


def wait_for(watched: WatchedIntentModel, intent: str | None, text: str = "I lost my card", timeout: float = 10.0) -> None:
    """Ask as the request path does until the background check has swapped the model in."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = watched.current()
        if (model.predict(text).intent if model else None) == intent:
            return
        time.sleep(0.05)
    raise AssertionError(f"the watched model never predicted {intent!r}")


def test_a_running_process_picks_up_a_first_and_then_a_newly_installed_model(small_bot: LoadedBot, db_url: str) -> None:
    from tests.learning.conftest import bank_sample, make_bot

    store = model_store(small_bot, db_url)
    watched = WatchedIntentModel(store, every=0.0)
    assert watched.current() is None  # none trained yet

    store.install(trained(small_bot))  # the first periodic retrain, in another process
    wait_for(watched, "lost_or_stolen_card")

    other = make_bot(small_bot.folder.parent / "other", [(text, f"renamed_{label}") for text, label in bank_sample()])
    store.install(trained(other))
    wait_for(watched, "renamed_lost_or_stolen_card")


def test_asking_for_the_model_never_waits_for_the_store(small_bot: LoadedBot, db_url: str) -> None:
    store = model_store(small_bot, db_url)
    store.install(trained(small_bot))

    class Slow:
        def stamp(self) -> object:
            time.sleep(0.5)
            return store.stamp()

        def load(self) -> IntentModel:
            return store.load()

    watched = WatchedIntentModel(Slow(), every=0.0)
    started = time.monotonic()
    assert all(watched.current() is not None for _ in range(100))
    assert time.monotonic() - started < 0.25


def test_the_bot_yaml_threshold_overrides_the_trained_one(small_bot: LoadedBot, db_url: str) -> None:
    from bots.handoff_wiring import make_nlu
    from core.botdef import load_bot

    model_store(small_bot, db_url).install(trained(small_bot))
    assert make_nlu(small_bot, db_url).oos_threshold == watch_intent_model(small_bot, db_url).current().threshold  # type: ignore[union-attr]

    bot_file = small_bot.folder / "bot.yaml"
    bot_file.write_text(bot_file.read_text(encoding="utf-8") + "intent_oos_threshold: 0.97\n", encoding="utf-8")
    strict = load_bot(small_bot.folder)
    nlu = make_nlu(strict, db_url)
    assert nlu.oos_threshold == 0.97
