"""The embedded generator: a grounded extractive responder.

Used when no LLM server is configured, and as the fallback when the server fails. It quotes
the best knowledge passage in the customer's language with a short lead-in and an offer to
connect a person; with no passage it says it does not know. It never invents a fact, which is
why it, and not a tiny local model, is the default.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from core.botdef import BotDefinition
from core.ports import GenerationRequest


class ExtractiveResponder:
    """A `Generator` that answers only with text from `request.passages`."""

    def __init__(self, bot: BotDefinition) -> None:
        self._bot = bot

    def answer(self, passages: tuple[str, ...], language: str) -> str:
        if not passages:
            return self._bot.text("no_match", language)
        parts = [self._bot.text("lead_in", language), passages[0].strip(), self._bot.text("offer_human", language)]
        return "\n\n".join(p for p in parts if p)

    async def generate(self, request: GenerationRequest) -> str:
        return self.answer(request.passages, request.language)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        yield self.answer(request.passages, request.language)
