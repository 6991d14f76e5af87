"""Model files: where they live, what they carry, how they are swapped, how the bot loads them."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from core.botdef import LoadedBot
from core.errors import ConfigError
from core.learning.holdout import split_holdout
from core.learning.intent_data import load_intent_data
from core.learning.model_card import ModelCard
from core.learning.training import TrainedModel, train_intent_model
from core.nlu.errors import ModelFileError
from core.nlu.intents import IntentModel
from infra.model_store import MODEL_DIR_ENV, FileModelStore, model_dir, model_path, watch_intent_model


def trained(bot: LoadedBot) -> TrainedModel:
    data = load_intent_data(bot)
    return train_intent_model(bot.definition.name, split_holdout(data.examples), data_sha256=data.sha256)


def test_model_dir_defaults_to_the_working_dir_and_follows_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert model_dir({}) == tmp_path / ".csbot" / "models"
    assert model_dir({MODEL_DIR_ENV: "/srv/models"}) == Path("/srv/models")
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "m"))
    assert model_dir() == tmp_path / "m"


def test_load_returns_none_without_a_model_and_a_working_model_with_one(small_bot: LoadedBot, tmp_path: Path) -> None:
    root = tmp_path / "models"
    assert watch_intent_model(small_bot, root).current() is None
    location = FileModelStore.for_bot(small_bot, root).install(trained(small_bot))
    assert Path(location) == root / "testbot" / "intents.pkl"
    model = watch_intent_model(small_bot, root).current()
    assert isinstance(model, IntentModel)
    assert model.predict("I lost my card, someone must have stolen it").intent == "lost_or_stolen_card"
    assert model.predict("我的卡丢了").intent == "lost_or_stolen_card"


def test_the_card_travels_with_the_model(small_bot: LoadedBot, tmp_path: Path) -> None:
    new = trained(small_bot)
    store = FileModelStore.for_bot(small_bot, tmp_path)
    store.install(new)
    current = store.current()
    assert current is not None and current.card == new.card
    card = current.card
    assert card.bot == "testbot" and card.n_labels == 12 and card.n_corrections == 0
    assert card.n_examples + card.n_held_out == 12 * 30 + 3
    assert 0.5 < card.held_out_accuracy <= 1.0
    assert card.trained_at.endswith("+00:00")
    import sklearn

    assert card.sklearn_version == sklearn.__version__


def test_install_keeps_the_replaced_model_beside_the_new_one(small_bot: LoadedBot, tmp_path: Path) -> None:
    store = FileModelStore.for_bot(small_bot, tmp_path)
    store.install(trained(small_bot))
    first = store.path.read_bytes()
    store.install(trained(small_bot))
    assert (store.path.parent / "intents.previous.pkl").read_bytes() == first
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["intents.pkl", "intents.previous.pkl"]
    assert oct(store.path.stat().st_mode & 0o777) == oct(0o644)


def test_a_corrupt_model_file_is_named_not_ignored(small_bot: LoadedBot, tmp_path: Path) -> None:
    path = model_path(small_bot, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a pickle")
    with pytest.raises(ModelFileError, match="intents.pkl"):
        IntentModel.load(model_path(small_bot, tmp_path))


def test_a_card_with_a_missing_field_names_the_file_and_field(small_bot: LoadedBot, tmp_path: Path) -> None:
    store = FileModelStore.for_bot(small_bot, tmp_path)
    store.install(trained(small_bot))
    envelope = pickle.loads(store.path.read_bytes())
    del envelope["metadata"]["split_seed"]
    store.path.write_bytes(pickle.dumps(envelope))
    with pytest.raises(ModelFileError, match=r"intents\.pkl: model metadata lacks field 'split_seed'"):
        store.current()


def test_a_model_saved_without_a_card_still_loads(small_bot: LoadedBot, tmp_path: Path) -> None:
    store = FileModelStore.for_bot(small_bot, tmp_path)
    trained(small_bot).model.save(store.path)
    current = store.current()
    assert current is not None and current.card is None


def test_card_round_trip_rejects_wrong_types() -> None:
    card = ModelCard("b", "2024-01-01T00:00:00+00:00", 10, 0, 2, 2, 1.0, 1.0, 0, 0.1, 0.5, "1.5", "ab")
    assert ModelCard.from_dict(card.to_dict(), source="x.pkl") == card
    with pytest.raises(ModelFileError, match="'n_examples' has the wrong type"):
        ModelCard.from_dict({**card.to_dict(), "n_examples": "10"}, source="x.pkl")


def test_a_bot_name_that_is_not_a_folder_name_is_refused(small_bot: LoadedBot, tmp_path: Path) -> None:
    evil = small_bot.model_copy(update={"definition": small_bot.definition.model_copy(update={"name": "../../etc"})})
    with pytest.raises(ConfigError) as error:
        model_path(evil, tmp_path)
    assert error.value.field == "name" and str(error.value.source).endswith("bot.yaml")


def test_an_intent_model_named_in_bot_yaml_takes_precedence(small_bot: LoadedBot, tmp_path: Path) -> None:
    named = small_bot.model_copy(
        update={"definition": small_bot.definition.model_copy(update={"intent_model": "models/intents.pkl"})}
    )
    assert model_path(named, tmp_path / "elsewhere") == small_bot.folder / "models" / "intents.pkl"
    FileModelStore.for_bot(named, tmp_path / "elsewhere").install(trained(small_bot))
    assert (small_bot.folder / "models" / "intents.pkl").is_file()
    assert watch_intent_model(named, tmp_path / "elsewhere").current() is not None
    assert watch_intent_model(small_bot, tmp_path / "elsewhere").current() is None


def test_the_bot_yaml_threshold_overrides_the_trained_one(small_bot: LoadedBot, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from bots.handoff_wiring import make_nlu
    from core.botdef import load_bot

    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "models"))
    FileModelStore.for_bot(small_bot).install(trained(small_bot))
    assert make_nlu(small_bot).oos_threshold == watch_intent_model(small_bot).current().threshold  # type: ignore[union-attr]

    bot_file = small_bot.folder / "bot.yaml"
    bot_file.write_text(bot_file.read_text(encoding="utf-8") + "intent_oos_threshold: 0.97\n", encoding="utf-8")
    strict = load_bot(small_bot.folder)
    nlu = make_nlu(strict)
    assert nlu.oos_threshold == 0.97
