"""Fixtures for the learning tests: a small bot with intent data, and a database of conversations."""

from __future__ import annotations

import csv
import random
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from core.botdef import LoadedBot, load_bot

ROOT = Path(__file__).resolve().parents[2]
BANK_TRAIN = ROOT / "bots" / "acme_bank" / "intents" / "train.csv"
TEST_BOT = ROOT / "tests" / "support" / "testbot"
# Enough intents and examples to tell a good model from a bad one, small enough to train in ~1 s.
N_INTENTS = 12
PER_INTENT = 30
ZH_EXAMPLES = [
    ("我的卡丢了，怎么办？", "lost_or_stolen_card"),
    ("银行卡被偷了，请帮我挂失", "lost_or_stolen_card"),
    ("我找不到我的银行卡了", "lost_or_stolen_card"),
]


def bank_sample(n_intents: int = N_INTENTS, per_intent: int = PER_INTENT, seed: int = 0) -> list[tuple[str, str]]:
    """``per_intent`` BANKING77 examples for each of ``n_intents`` intents (lost_or_stolen_card always in)."""
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with BANK_TRAIN.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            by_label[row["category"]].append((row["text"], row["category"]))
    rng = random.Random(seed)
    others = sorted(label for label in by_label if label != "lost_or_stolen_card")
    labels = ["lost_or_stolen_card", *rng.sample(others, n_intents - 1)]
    sample = []
    for label in labels:
        sample += rng.sample(by_label[label], per_intent)
    return sample


def write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("text", "category")) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def make_bot(folder: Path, examples: list[tuple[str, str]] | None = None) -> LoadedBot:
    """The test bot's definition with an ``intents`` folder of two CSV files."""
    shutil.copytree(TEST_BOT / "knowledge", folder / "knowledge")
    definition = yaml.safe_load((TEST_BOT / "bot.yaml").read_text(encoding="utf-8"))
    definition["intents"] = "intents"
    definition.pop("intent_model", None)  # models go to the model dir the test chooses
    (folder / "bot.yaml").write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    write_csv(folder / "intents" / "en.csv", examples if examples is not None else bank_sample())
    write_csv(folder / "intents" / "zh.csv", ZH_EXAMPLES)
    return load_bot(folder)


@pytest.fixture
def small_bot(tmp_path: Path) -> LoadedBot:
    return make_bot(tmp_path / "bot")
