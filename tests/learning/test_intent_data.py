"""The bot's intents folder: every CSV, in name order; problems named by file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.botdef import load_bot
from core.errors import ConfigError
from core.learning.intent_data import load_intent_data
from core.nlu.errors import DatasetFileError
from tests.learning.conftest import TEST_BOT, ZH_EXAMPLES, make_bot, write_csv


def test_all_csv_files_are_concatenated_in_name_order(tmp_path: Path) -> None:
    bot = make_bot(tmp_path / "bot", [("I lost my card", "lost"), ("rate?", "rate")])
    (bot.folder / "intents" / "README.md").write_text("not data")
    data = load_intent_data(bot)
    assert [p.name for p in data.files] == ["en.csv", "zh.csv"]
    assert data.examples == (("I lost my card", "lost"), ("rate?", "rate"), *ZH_EXAMPLES)
    assert data.labels == {"lost", "rate", "lost_or_stolen_card"}


def test_the_fingerprint_follows_the_content(tmp_path: Path) -> None:
    bot = make_bot(tmp_path / "bot", [("a", "x"), ("b", "y")])
    before = load_intent_data(bot).sha256
    assert load_intent_data(bot).sha256 == before
    write_csv(bot.folder / "intents" / "en.csv", [("a", "x"), ("b", "z")])
    assert load_intent_data(bot).sha256 != before


def test_a_bot_without_intents_names_the_field() -> None:
    with pytest.raises(ConfigError) as error:
        load_intent_data(load_bot(TEST_BOT))
    assert error.value.field == "intents"
    assert error.value.source == str(TEST_BOT / "bot.yaml")


def test_an_empty_intents_folder_is_explained(tmp_path: Path) -> None:
    bot = make_bot(tmp_path / "bot")
    for path in (bot.folder / "intents").glob("*.csv"):
        path.unlink()
    with pytest.raises(ConfigError, match="has no .csv files"):
        load_intent_data(bot)


def test_a_bad_csv_is_named_with_its_line(tmp_path: Path) -> None:
    bot = make_bot(tmp_path / "bot")
    (bot.folder / "intents" / "extra.csv").write_text("text,category\nfine,x\n,missing text\n", encoding="utf-8")
    with pytest.raises(DatasetFileError, match=r"extra\.csv: line 3: empty text or category"):
        load_intent_data(bot)
