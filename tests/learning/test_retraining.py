"""Retraining installs a new model only when it scores at least as well on the same held-out data."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.botdef import LoadedBot
from core.learning.corrections import Correction
from core.learning.holdout import split_holdout
from core.learning.intent_data import load_intent_data
from core.learning.retraining import KEPT, INSTALLED, retrain
from core.learning.training import train_intent_model
from core.nlu.features import FeatureConfig
from core.nlu.intents import IntentModel, IntentModelConfig
from infra.model_store import FileModelStore

# Word 6-grams and single characters: features that barely tell intents apart.
WEAK = IntentModelConfig(features=FeatureConfig(word_ngrams=(6, 6), char_ngrams=(1, 1)))


def install_initial(bot: LoadedBot, store: FileModelStore, config: IntentModelConfig | None = None, seed: int = 0) -> None:
    data = load_intent_data(bot)
    split = split_holdout(data.examples, seed=seed)
    store.install(train_intent_model(bot.definition.name, split, data_sha256=data.sha256, config=config))


def poisoned(bot: LoadedBot) -> list[Correction]:
    """Every training text again, each labelled with another intent."""
    data = load_intent_data(bot)
    labels = sorted(data.labels)
    split = split_holdout(data.examples)
    return [
        Correction(i, text + " please", labels[(labels.index(label) + 1) % len(labels)])
        for i, (text, label) in enumerate(split.train)
    ] * 2


@pytest.fixture
def store(small_bot: LoadedBot, tmp_path: Path) -> FileModelStore:
    return FileModelStore(tmp_path / "models" / "intents.pkl")


def test_without_a_current_model_the_new_one_is_installed(small_bot: LoadedBot, store: FileModelStore) -> None:
    lines: list[str] = []
    outcome = retrain("testbot", load_intent_data(small_bot), [], store, progress=lines.append)
    assert outcome.installed and outcome.decision == INSTALLED and outcome.current_score is None
    assert store.current() is not None
    assert any("training on" in line for line in lines)


def test_poisoned_corrections_are_refused_and_the_current_model_kept(small_bot: LoadedBot, store: FileModelStore) -> None:
    install_initial(small_bot, store)
    before = store.path.read_bytes()
    outcome = retrain("testbot", load_intent_data(small_bot), poisoned(small_bot), store)
    assert not outcome.installed and outcome.decision == KEPT
    assert outcome.current_score is not None
    assert outcome.new_score.correct < outcome.current_score.correct
    assert store.path.read_bytes() == before
    assert not (store.path.parent / "intents.previous.pkl").exists()
    assert any(KEPT in line for line in outcome.report_lines())


def test_a_degenerate_trainer_is_refused(small_bot: LoadedBot, store: FileModelStore, monkeypatch: pytest.MonkeyPatch) -> None:
    install_initial(small_bot, store)
    train = IntentModel.train.__func__  # type: ignore[attr-defined]

    def mislabelling(cls: type[IntentModel], examples: list[tuple[str, str]], **kwargs: object) -> IntentModel:
        labels = [label for _, label in examples]
        shifted = labels[len(labels) // 2 :] + labels[: len(labels) // 2]
        return train(cls, [(text, label) for (text, _), label in zip(examples, shifted)], **kwargs)

    monkeypatch.setattr(IntentModel, "train", classmethod(mislabelling))
    outcome = retrain("testbot", load_intent_data(small_bot), [], store)
    assert not outcome.installed
    assert outcome.current_score is not None and outcome.current_score.accuracy > 0.7
    assert outcome.new_score.accuracy < 0.3


def test_a_better_model_replaces_a_worse_one(small_bot: LoadedBot, store: FileModelStore) -> None:
    install_initial(small_bot, store, config=WEAK)
    outcome = retrain("testbot", load_intent_data(small_bot), [], store)
    assert outcome.installed
    assert outcome.current_score is not None and outcome.new_score.correct > outcome.current_score.correct
    current = store.current()
    assert current is not None and current.card == outcome.new_card


def test_an_equal_model_is_installed(small_bot: LoadedBot, store: FileModelStore) -> None:
    install_initial(small_bot, store)
    outcome = retrain("testbot", load_intent_data(small_bot), [], store)
    assert outcome.current_score == outcome.new_score
    assert outcome.installed


def test_the_split_comes_from_the_installed_models_card(small_bot: LoadedBot, store: FileModelStore) -> None:
    install_initial(small_bot, store, seed=5)
    outcome = retrain("testbot", load_intent_data(small_bot), [], store)
    assert outcome.new_card.split_seed == 5
    assert outcome.installed  # same data, same split, same trainer: an equal score


def test_corrections_are_redacted_and_screened(small_bot: LoadedBot, store: FileModelStore) -> None:
    data = load_intent_data(small_bot)
    held_text, held_label = split_holdout(data.examples).held_out[0]
    corrections = [
        Correction(1, "my card 4111 1111 1111 1111 is gone, lost it on the bus", "lost_or_stolen_card"),
        Correction(2, "my card 4111 1111 1111 1111 is gone, lost it on the bus", "lost_or_stolen_card"),
        Correction(3, "what is a mortgage", "mortgage_advice"),
        Correction(4, f"  {held_text.upper()} ", held_label),
        Correction(5, "   ", "lost_or_stolen_card"),
    ]
    outcome = retrain("testbot", data, corrections, store)
    usable = outcome.corrections
    assert usable.examples == (("my card [CARD] is gone, lost it on the bus", "lost_or_stolen_card"),)
    assert (usable.duplicate, usable.unknown_label, usable.held_out_text, usable.empty) == (1, 1, 1, 1)
    assert outcome.new_card.n_corrections == 1
