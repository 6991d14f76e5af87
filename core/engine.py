"""The conversation engine: one customer message in, one `Reply` out. No I/O of its own.

Language → retrieval → prompt → generation (within a deadline) → post-processing. When the
LLM path fails the customer still gets an answer: the best passage, or a holding message that
asks for a person. Understanding (NLU) and the escalation policy plug in through `Understand`
and `Policy` so they can grow without touching this flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from core.botdef import BotDefinition
from core.errors import LLMError
from core.extractive import ExtractiveResponder
from core.followup import context_for
from core.messages import ContentKind
from core.nlu.language import detect_language
from core.nlu.understanding import NluPipeline, Understanding
from core.ports import Generator
from core.postprocess import clean
from core.prompt import build_request
from core.records import StoredMessage, Turn
from core.reply import Reply, ReplySource
from core.resilience import generate_within
from core.retrieval import Passage
from core.small_talk import recognise as recognise_small_talk


class PassageSource(Protocol):
    """Top-k knowledge search: a fixed `Retriever`, or the live `KnowledgeIndex`."""

    def search(
        self, query: str, *, top_k: int = 3, language: str | None = None, context: str | None = None
    ) -> list[Passage]: ...


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What the engine knows about the conversation when a message arrives."""

    language: str
    history: Sequence[Turn]
    # A person can take over (an agent desk is configured). Without one, answers do not invite
    # the customer to "reply agent": that would loop.
    desk: bool = True


class ConversationEngine:
    def __init__(
        self, bot: BotDefinition, retriever: PassageSource, generator: Generator, *, nlu: NluPipeline | None = None
    ) -> None:
        self.bot = bot
        self.retriever = retriever
        self.generator = generator
        self.nlu = nlu or NluPipeline(None)
        self._extractive = ExtractiveResponder(bot)

    def understand(self, message: StoredMessage) -> Understanding | None:
        """Intent, sentiment, entities and language of a text message (None for media)."""
        if message.kind is ContentKind.MEDIA or not message.text.strip():
            return None
        return self.nlu.analyze(message.text)

    def language_of(self, text: str, previous: str) -> str:
        """The message's language, or the conversation's when the text has no letters to tell."""
        if not any(ch.isalpha() for ch in text):
            return previous
        detected = detect_language(text)
        return detected if detected in self.bot.languages else self.bot.languages[0]

    def retrieve(self, text: str, language: str, history: Sequence[Turn] = ()) -> list[Passage]:
        """Passages above `min_score`; a follow-up is searched with the previous customer message."""
        conf = self.bot.retrieval
        hits = self.retriever.search(text, top_k=conf.top_k, language=language, context=context_for(text, history))
        return [p for p in hits if p.score >= conf.min_score]

    def reach_person(self, language: str) -> Reply:
        """The honest answer to "get me a person" where no one can join: how to reach one."""
        return Reply(self.bot.text("reach_person", language), language, ReplySource.CANNED, reason="no agent desk")

    async def reply(self, message: StoredMessage, context: TurnContext) -> Reply:
        reply = await self._reply(message, context)
        return reply if context.desk else self._without_desk(reply)

    def _without_desk(self, reply: Reply) -> Reply:
        """The same answer minus every invitation to "reply agent"."""
        no_match, offer = self.bot.text("no_match", reply.language), self.bot.text("offer_human", reply.language)
        if reply.text.strip() == no_match.strip():
            return replace(reply, text=self.bot.text("no_match_no_desk", reply.language))
        if offer and offer in reply.text:
            return replace(reply, text=reply.text.replace(offer, "").strip())
        return reply

    async def _reply(self, message: StoredMessage, context: TurnContext) -> Reply:
        language = self.language_of(message.text, context.language)
        if message.kind is ContentKind.MEDIA:
            return Reply(self.bot.text("media_only", language), language, ReplySource.CANNED)
        if (social := recognise_small_talk(message.text)) is not None:
            return Reply(self.bot.text(social.value, language), language, ReplySource.CANNED, reason=f"small talk: {social}")
        passages = self.retrieve(message.text, language, context.history)
        grounding = passages[0].score if passages else 0.0
        request = build_request(self.bot, passages, context.history, message.text, language)
        gen = self.bot.generation
        try:
            raw = await generate_within(self.generator, request, retries=gen.retries, deadline=gen.deadline_seconds)
        except LLMError as exc:
            return self._fallback(passages, language, reason=f"llm failed: {type(exc).__name__}: {exc}")
        text = clean(raw, request)
        if not text or (language in self.bot.languages and detect_language(text) != language):
            # An empty answer or one in the wrong language is no answer: quote the knowledge base.
            return self._fallback(passages, language, reason="generated answer unusable")
        source = ReplySource.EXTRACTIVE if isinstance(self.generator, ExtractiveResponder) else ReplySource.LLM
        return Reply(text, language, source, grounding_score=grounding, needs_human=not passages,
                     reason="" if passages else "no knowledge match", passage=passages[0].article.body if passages else "")

    def _fallback(self, passages: list[Passage], language: str, *, reason: str) -> Reply:
        if passages:
            text = self._extractive.answer((passages[0].article.body,), language)
            return Reply(text, language, ReplySource.KNOWLEDGE_FALLBACK, grounding_score=passages[0].score, reason=reason,
                         passage=passages[0].article.body)
        return Reply(self.bot.text("holding", language), language, ReplySource.HOLDING, needs_human=True, reason=reason)


def understanding_record(understanding: Understanding | None) -> dict[str, Any]:
    """What is stored of an `Understanding`: entity kinds only, never their values (a card or
    phone number must not sit in clear text in the message's analysis)."""
    if understanding is None:
        return {}
    return {
        "intent": understanding.intent,
        "confidence": round(understanding.intent_confidence, 4),
        "out_of_scope": understanding.out_of_scope,
        "sentiment": str(understanding.sentiment),
        "sentiment_score": round(understanding.sentiment_score, 4),
        "entities": sorted({str(e.kind) for e in understanding.entities}),
        "language": understanding.language,
    }
