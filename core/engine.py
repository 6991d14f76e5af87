"""The conversation engine: one customer message in, one `Reply` out. No I/O of its own.

Language → retrieval → prompt → generation (within a deadline) → post-processing → grounding.
When retrieval finds nothing the model is not asked: it would guess. A generated answer stating a
fact its sources lack is regenerated once with the claims named, then replaced by the best
passage. When the LLM path fails the customer still gets an answer: the best passage, or a
holding message that asks for a person. Understanding (NLU) and the escalation policy plug in through `Understand`
and `Policy` so they can grow without touching this flow.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from core.botdef import BotDefinition
from core.errors import LLMError
from core.extractive import ExtractiveResponder
from core.followup import RELATED_MARGIN, UNRELATED_MARGIN, WEAK_MARGIN, asks_about_previous, earlier_messages, leans_on_previous, own_topic, points_back
from core.grounding import Evidence, Grounding, GroundingOutcome, GroundingReport, check
from core.messages import ContentKind
from core.nlu.encoders import QueryEmbedding
from core.nlu.language import detect_language
from core.nlu.understanding import NluPipeline, Understanding
from core.ports import GenerationRequest, Generator
from core.postprocess import clean
from core.privacy import private_answer
from core.prompt import build_request, stricter
from core.records import StoredMessage, Turn
from core.reply import Citation, Reply, ReplySource
from core.resilience import generate_within, stream_within
from core.retrieval import Passage
from core.small_talk import SmallTalk, short_enough
from core.small_talk import recognise as recognise_small_talk


class PassageSource(Protocol):
    """Top-k knowledge search: a fixed `Retriever`, or the live `KnowledgeIndex`."""

    def search(
        self, query: str, *, top_k: int = 3, language: str | None = None,
        vector: NDArray[np.float32] | None = None, context: str | None = None,
    ) -> list[Passage]: ...

    def similarity(self, query: str, slug: str, vector: NDArray[np.float32] | None = None) -> float:
        """How close `query` is to the article `slug`, on the scale of a search's scores."""

    def encode(self, query: str) -> NDArray[np.float32] | None:
        """The query's vector (None without an encoder)."""

    def small_talk(self, query: str, vector: NDArray[np.float32] | None = None) -> SmallTalk | None:
        """The small talk a short message is by meaning (None without an encoder)."""

    def off_topic(self, query: str, vector: NDArray[np.float32] | None = None, *, after_a_question: bool = False) -> bool:
        """Whether the message is about something no article covers (False without an encoder);
        `after_a_question`: an earlier customer message it may lean on, so it must be clearer."""


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What the engine knows about the conversation when a message arrives."""

    language: str
    history: Sequence[Turn]
    # A person can take over (an agent desk is configured). Without one, answers do not invite
    # the customer to "reply agent": that would loop.
    desk: bool = True
    # The message's vector from `understand`, so retrieval does not encode it a second time.
    embedding: QueryEmbedding | None = None


PartialSink = Callable[[Callable[[], str]], None]
"""Where the answer so far goes while it is generated (`core.streaming.StreamPresenter.offer`):
a function rendering it, so only the partials actually shown pay for clean-up and masking."""


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
        return self.nlu.analyze(message.text, embedding=self.embed(message.text))

    def embed(self, text: str) -> QueryEmbedding | None:
        """The message's vector from the retrieval encoder (None without one): computed once a
        message and shared by the intent model and retrieval, the encoder being the costly part."""
        name = self.bot.retrieval.encoder
        vector = self.retriever.encode(text) if name else None
        return QueryEmbedding(name, vector) if name and vector is not None else None

    def language_of(self, text: str, previous: str) -> str:
        """The message's language, or the conversation's when the text has no letters to tell."""
        if not any(ch.isalpha() for ch in text):
            return previous
        detected = detect_language(text)
        return detected if detected in self.bot.languages else self.bot.languages[0]

    def retrieve(
        self, text: str, language: str, history: Sequence[Turn] = (), embedding: QueryEmbedding | None = None
    ) -> list[Passage]:
        """Passages above `min_score`. A follow-up is searched with the previous customer message:
        one that points back at it (unless it brings a topic of its own), or one that finds
        nothing confidently on its own. A message off topic on its own ("my parcel hasn't
        arrived", `core.off_topic`) is answered only as a follow-up."""
        conf = self.bot.retrieval
        floor = conf.min_score_for(language)
        vector = embedding.vector if embedding is not None else None
        previous = self._topic_before(text, history, language)
        off_topic = self.retriever.off_topic(text, vector, after_a_question=previous is not None)
        # The previous message's own best article, searched at most once a turn.
        topic = functools.cache(lambda: self.retriever.search(previous or "", top_k=1, language=language))
        follows = previous is not None and leans_on_previous(text) and (
            points_back(text) or not off_topic and not self._far_from(text, topic(), language, vector)
        )
        if follows:
            joined = self.retriever.search(text, top_k=conf.top_k, language=language, context=previous)
            alone = self.retriever.search(text, top_k=conf.top_k, language=language, vector=vector)
            hits = alone if own_topic(alone, joined) else joined
        elif off_topic:
            # Alone it is about no article; it may still add to the previous topic ("what if it's
            # still not there tomorrow?" after a transfer), never be answered on its own.
            hits = self._with_previous(text, previous, topic(), language, vector) if previous is not None else []
        else:
            hits = self.retriever.search(text, top_k=conf.top_k, language=language, vector=vector)
            if previous is not None and self._weak(hits, language):
                hits = self._with_previous(text, previous, topic(), language, vector) or hits
        return [p for p in hits if p.score >= floor]

    def _topic_before(self, text: str, history: Sequence[Turn], language: str) -> str | None:
        """The earlier message(s) a follow-up is searched with: the previous customer message,
        and the one before it when the previous names no topic of its own, as the middle of a
        chain does ("I sent my landlord the rent", "he says it hasn't come in", "what then?")."""
        earlier = earlier_messages(text, history)
        if not earlier:
            return None
        previous = earlier[0]
        if len(earlier) > 1 and self._names_no_topic(previous, language):
            return f"{earlier[1]} {previous}"
        return previous

    def _names_no_topic(self, text: str, language: str) -> bool:
        """True when `text` leans on what came before it, or finds nothing confidently alone."""
        if leans_on_previous(text):
            return True
        return self._weak(self.retriever.search(text, top_k=1, language=language), language)

    def _weak(self, hits: Sequence[Passage], language: str) -> bool:
        """True when the best hit is missing or within `WEAK_MARGIN` of the floor: found, not known."""
        return not hits or hits[0].score < self.bot.retrieval.min_score_for(language) + WEAK_MARGIN

    def _with_previous(
        self, text: str, previous: str, before: Sequence[Passage], language: str, vector: NDArray[np.float32] | None
    ) -> list[Passage]:
        """The two messages searched as one, when that scores better than the previous
        message alone (the new one adds to that topic), or stays on the previous topic and the
        new message is close to it on its own (`core.followup.RELATED_MARGIN`: "what's the
        most I can get from the machine?" after a question about cash). An unrelated question
        ("what's the weather tomorrow?" after "my card was stolen") only dilutes it, and is
        left to abstain."""
        top_k = self.bot.retrieval.top_k
        joined = self.retriever.search(text, top_k=top_k, language=language, context=previous)
        if not joined:
            return []
        if not before or joined[0].score > before[0].score:
            return joined
        same_topic = joined[0].article.slug == before[0].article.slug
        return joined if same_topic and self._close_to(text, before[0], language, vector) else []

    def _far_from(self, text: str, before: Sequence[Passage], language: str, vector: NDArray[np.float32] | None) -> bool:
        """True when `text` on its own is far from the article the previous message is about
        (`before`; `core.followup.UNRELATED_MARGIN`): "what's the capital of Australia?" is
        short, yet no follow-up; "what now?" names nothing and stays near enough."""
        return bool(before) and self._below_topic(text, before[0], language, vector) > UNRELATED_MARGIN

    def _close_to(self, text: str, topic: Passage, language: str, vector: NDArray[np.float32] | None) -> bool:
        return self._below_topic(text, topic, language, vector) <= RELATED_MARGIN

    def _below_topic(self, text: str, topic: Passage, language: str, vector: NDArray[np.float32] | None) -> float:
        """How far under the floor `text` alone scores for the topic's article (negative: above)."""
        floor = self.bot.retrieval.min_score_for(language)
        return floor - self.retriever.similarity(text, topic.article.slug, vector)

    def reach_person(self, language: str) -> Reply:
        """The honest answer to "get me a person" where no one can join: how to reach one."""
        return Reply(self.bot.text("reach_person", language), language, ReplySource.CANNED, reason="no agent desk")

    async def reply(self, message: StoredMessage, context: TurnContext, *, on_partial: PartialSink | None = None) -> Reply:
        """The answer to `message`. With `on_partial`, an LLM answer is streamed and the sink
        is handed the text so far (masked, as the final is) while it grows; the `Reply` is the
        same as without it, cleaned and checked, and is what the customer finally gets."""
        reply = await self._reply(message, context, on_partial)
        return reply if context.desk else self._without_desk(reply)

    def _without_desk(self, reply: Reply) -> Reply:
        """The same answer minus every invitation to "reply agent"."""
        no_match, offer = self.bot.text("no_match", reply.language), self.bot.text("offer_human", reply.language)
        if reply.text.strip() == no_match.strip():
            return replace(reply, text=self.bot.text("no_match_no_desk", reply.language))
        if offer and offer in reply.text:
            return replace(reply, text=reply.text.replace(offer, "").strip())
        return reply

    async def _reply(self, message: StoredMessage, context: TurnContext, on_partial: PartialSink | None) -> Reply:
        language = self.language_of(message.text, context.language)
        if message.kind is ContentKind.MEDIA:
            return Reply(self.bot.text("media_only", language), language, ReplySource.CANNED)
        # Off the loop: searching (and encoding, when the vector is not given) is CPU work that
        # would stall every other turn.
        vector = context.embedding.vector if context.embedding is not None else None
        social = recognise_small_talk(message.text)
        if social is None and short_enough(message.text) and not asks_about_previous(message.text):
            social = await asyncio.to_thread(self.retriever.small_talk, message.text, vector)
        if social is not None:
            return Reply(self.bot.text(social.value, language), language, ReplySource.CANNED, reason=f"small talk: {social}")
        passages = await asyncio.to_thread(self.retrieve, message.text, language, context.history, context.embedding)
        if not passages:
            return Reply(self.bot.text("no_match", language), language, ReplySource.NO_MATCH, needs_human=True,
                         reason="no knowledge match")
        request = build_request(self.bot, passages, context.history, message.text, language)
        if isinstance(self.generator, ExtractiveResponder):
            text = self.generator.answer(request.passages, language)
            return self._answer(text, passages, language, ReplySource.EXTRACTIVE, None)
        evidence = Evidence.of((*(f"{p.article.title}\n{p.article.body}" for p in passages),
                                *(t.text for t in context.history), message.text))
        try:
            text, report = await self._generate(request, evidence, on_partial)
            if report.grounded:
                return self._answer(text, passages, language, ReplySource.LLM, Grounding(GroundingOutcome.GROUNDED))
            claims = report.claims
            text, report = await self._generate(stricter(request, claims), evidence, on_partial)
        except LLMError as exc:
            return self._fallback(passages, language, reason=f"llm failed: {type(exc).__name__}: {exc}")
        except _Unusable:
            # An empty answer or one in the wrong language is no answer: quote the knowledge base.
            return self._fallback(passages, language, reason="generated answer unusable")
        if report.grounded:
            grounding = Grounding(GroundingOutcome.REGENERATED, claims, _slugs(passages))
            return self._answer(text, passages, language, ReplySource.LLM, grounding)
        grounding = Grounding(GroundingOutcome.FALLEN_BACK, tuple(dict.fromkeys((*claims, *report.claims))))
        return self._fallback(passages, language, reason="generated answer not grounded", grounding=grounding)

    async def _generate(
        self, request: GenerationRequest, evidence: Evidence, on_partial: PartialSink | None = None
    ) -> tuple[str, GroundingReport]:
        gen = self.bot.generation
        if on_partial is None:
            raw = await generate_within(self.generator, request, retries=gen.retries, deadline=gen.deadline_seconds)
        else:
            raw = await stream_within(
                self.generator, request, lambda so_far: on_partial(lambda: self._partial(so_far, request, evidence)),
                retries=gen.retries, deadline=gen.deadline_seconds, timeout=gen.timeout_seconds,
            )
        text = self._shown(raw, request)
        if not text or (request.language in self.bot.languages and detect_language(text) != request.language):
            raise _Unusable
        return text, check(text, evidence)

    def _shown(self, raw: str, request: GenerationRequest) -> str:
        """Generated text as a customer may see it: leaked prompt cut, secrets masked. Partials
        pass through it too, so a card number is never on screen even for a second."""
        return private_answer(clean(raw, request), self.bot.privacy)

    def _partial(self, raw: str, request: GenerationRequest, evidence: Evidence) -> str:
        """A partial as shown: as `_shown`, and cut before its first fact the sources do not
        support. The final text is checked whole (and regenerated or replaced when it fails);
        a partial must not show, even for a few seconds, what that check would refuse. A number
        still being written may look unsupported too: it appears once it is whole and right."""
        text = self._shown(raw, request)
        claims = check(text, evidence).claims
        if not claims:
            return text
        cuts = [at for claim in claims if (at := text.find(claim)) >= 0]
        return text[: min(cuts)].rstrip() if cuts else ""

    def _answer(
        self, text: str, passages: list[Passage], language: str, source: ReplySource, grounding: Grounding | None
    ) -> Reply:
        if grounding is not None and not grounding.articles:
            grounding = replace(grounding, articles=_slugs(passages))
        best = passages[0]
        return Reply(text, language, source, grounding_score=best.score, passage=best.article.body,
                     grounding=grounding, citations=(self._citation(best),))

    def _fallback(
        self, passages: list[Passage], language: str, *, reason: str, grounding: Grounding | None = None
    ) -> Reply:
        if passages:
            text = self._extractive.answer((passages[0].article.body,), language)
            if grounding is not None:
                grounding = replace(grounding, articles=_slugs(passages[:1]))
            return Reply(text, language, ReplySource.KNOWLEDGE_FALLBACK, grounding_score=passages[0].score, reason=reason,
                         passage=passages[0].article.body, grounding=grounding, citations=(self._citation(passages[0]),))
        return Reply(self.bot.text("holding", language), language, ReplySource.HOLDING, needs_human=True, reason=reason)

    @staticmethod
    def _citation(passage: Passage) -> Citation:
        return Citation(passage.article.slug, passage.article.title, passage.article.url)


class _Unusable(Exception):
    """The model answered with nothing, or in another language than the customer's."""


def _slugs(passages: Sequence[Passage]) -> tuple[str, ...]:
    return tuple(p.article.slug for p in passages)


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
