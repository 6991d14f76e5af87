"""A partial shown while the answer is generated never shows a fact the knowledge base lacks:
the final text is checked whole, and a partial is cut before its first unsupported fact."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

from bots.runtime import make_knowledge
from core.botdef import load_bot
from core.engine import ConversationEngine, TurnContext
from core.messages import ContentKind
from core.ports import GenerationRequest
from core.records import InboundStatus, StoredMessage
from core.reply import ReplySource

SAMPLE_BOT = Path(__file__).parents[2] / "bots" / "acme_bank"
# The lost-card article gives the hotline +1 800 555 0199; the model invents a price mid-answer.
WORDS = "Freeze your card in the app or call +1 800 555 0199 now. A new card costs 25 EUR and arrives soon.".split()


class WordStream:
    """A streaming model writing `words` one at a time, the same text on every request."""

    def __init__(self, words: list[str]) -> None:
        self.words = words

    async def generate(self, request: GenerationRequest) -> str:
        return " ".join(self.words)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        for i, word in enumerate(self.words):
            yield word if i == 0 else " " + word


async def test_partials_stop_before_an_invented_number_and_the_final_is_the_passage() -> None:
    bot = load_bot(SAMPLE_BOT)
    engine = ConversationEngine(bot.definition, make_knowledge(bot), WordStream(WORDS))
    shown: list[str] = []

    def sink(render: Callable[[], str]) -> None:
        shown.append(render())

    message = StoredMessage(1, 1, "test", "m1", "I lost my card", ContentKind.TEXT, InboundStatus.RECEIVED, datetime.now(UTC))
    reply = await engine.reply(message, TurnContext("en", ()), on_partial=sink)

    assert any("+1 800 555 0199" in text for text in shown), "a supported number shows as soon as it is whole"
    assert shown[-1].startswith("Freeze your card"), shown[-1]
    assert not any("25" in text for text in shown), [t for t in shown if "25" in t]
    assert reply.source is ReplySource.KNOWLEDGE_FALLBACK, "both tries invented the price: the passage is quoted"
    assert "25 EUR" not in reply.text
