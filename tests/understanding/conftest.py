"""The sample bot with its real encoder, built once for the module's tests: the knowledge
vectors come from the on-disk cache after the first build."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.answer_eval import Case, load_cases
from bots.runtime import make_knowledge
from core.botdef import LoadedBot, load_bot
from core.engine import ConversationEngine
from core.extractive import ExtractiveResponder
from core.knowledge_index import KnowledgeIndex

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_BOT = ROOT / "bots" / "acme_bank"
HELD_OUT = SAMPLE_BOT / "eval" / "heldout.yaml"


@pytest.fixture(scope="session")
def sample_bot() -> LoadedBot:
    return load_bot(SAMPLE_BOT)


@pytest.fixture(scope="session")
def hybrid_index(sample_bot: LoadedBot) -> KnowledgeIndex:
    index = make_knowledge(sample_bot)
    assert index.hybrid, "the sample bot's bot.yaml names retrieval.encoder"
    return index


@pytest.fixture(scope="session")
def engine(sample_bot: LoadedBot, hybrid_index: KnowledgeIndex) -> ConversationEngine:
    return ConversationEngine(sample_bot.definition, hybrid_index, ExtractiveResponder(sample_bot.definition))


@pytest.fixture(scope="session")
def held_out() -> list[Case]:
    return load_cases(HELD_OUT)
