"""Processing inbound messages: one reply per message, in order, whoever runs the job.

A job names one message, but it drains the conversation: under the conversation's lock it
answers every unanswered message oldest first. So jobs may run in any order, twice, or on different workers, and replies
are still written once each and in arrival order: the message's status is the compare-and-set
that lets exactly one turn write its reply.

A turn asks the database twice: one read (conversation, message, history) before the model and
one write (reply, analysis, conversation state) after. The read is made before the lock is
taken, since the lock's key needs the conversation; a lock that was busy means another job may
have answered meanwhile, so the read is then repeated. The reply is sent from the same job when
nothing earlier of the conversation waits (see `Delivery.record_and_send`).

Each turn: a conversation a person owns is relayed to the agents, never answered by the bot;
otherwise NLU reads the message, a pending post-handoff rating or a typed 👍/👎 vote is taken,
the engine answers, and the escalation policy decides whether that answer goes out (asking the
customer for a vote where the channel can) or a person takes over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from typing import Any

from core.delivery import Delivery
from core.desk import HandoffDesk
from core.engine import ConversationEngine, TurnContext, understanding_record
from core.errors import LockTimeout
from core.feedback import FeedbackStyle, Vote, VotePress, asks_feedback, parse_text_vote
from core.handoff import Mode
from core.history import window
from core.knowledge_index import KnowledgeIndex
from core.observe import UNOBSERVED, Observer, TurnOutcome
from core.policy import Decision, Policy, Rule
from core.ports import FeedbackStore, JobQueue, Locks, Store, TypingIndicator
from core.records import AnsweredTurn, Conversation, Outbound, PendingTurn, StoredMessage
from core.reply import Reply, ReplySource
from core.streaming import STREAM_KEY, StreamMarks, StreamPresenter, StreamTarget, StreamView

log = logging.getLogger(__name__)

# How long a job tries the conversation's lock before counting it busy: long enough for one
# Redis round trip; a busy lock is then waited for as usual (and the turn's read repeated).
AT_ONCE = 0.05


class TurnProcessor:
    def __init__(
        self,
        store: Store,
        jobs: JobQueue,
        locks: Locks,
        engine: ConversationEngine,
        *,
        lock_timeout: float,
        typing: Mapping[str, TypingIndicator] | None = None,
        desk: HandoffDesk | None = None,
        knowledge: KnowledgeIndex | None = None,
        feedback: FeedbackStore | None = None,
        feedback_styles: Mapping[str, FeedbackStyle] | None = None,
        observer: Observer = UNOBSERVED,
        delivery: Delivery | None = None,
        streams: Mapping[str, StreamView] | None = None,
        stream_marks: StreamMarks | None = None,
    ) -> None:
        self._store = store
        self._typing = typing or {}
        self._jobs = jobs
        self._locks = locks
        self._engine = engine
        self._lock_timeout = lock_timeout
        self._desk = desk
        self._knowledge = knowledge
        self._feedback = feedback
        self._feedback_styles = feedback_styles or {}
        self._observer = observer
        self._delivery = delivery
        self._streams = dict(streams or {})
        self._stream_marks = stream_marks
        bot = engine.bot
        self._policy = Policy(bot.escalation, min_grounding=bot.retrieval.min_score)

    async def process(self, message_id: int) -> int:
        """Answer what is unanswered in this message's conversation; returns how many."""
        turn = await self._read(message_id)
        if turn.message is None:
            # A redelivery, perhaps of a run that died between writing a reply and handing it on.
            await self._hand_over_due(turn.conversation.id)
            return 0
        written = 0
        async with self._conversation(turn.conversation.id) as undisturbed:
            if not undisturbed:
                turn = await self._read(message_id)
            while turn.message is not None:
                started = time.perf_counter()
                outcome = await self._answer(turn)
                if outcome is not None:
                    self._observer.turn_finished(outcome, time.perf_counter() - started)
                    written += 1
                if outcome is not None and not turn.more:
                    break
                answered = turn.message.id
                turn = await self._read(message_id)
                if turn.message is not None and turn.message.id == answered:
                    break  # its reply exists yet it reads unanswered: never loop on it
        return written

    async def _read(self, message_id: int) -> PendingTurn:
        return await self._store.pending_turn(message_id, history_turns=self._engine.bot.history.max_turns)

    @asynccontextmanager
    async def _conversation(self, conversation_id: int) -> AsyncIterator[bool]:
        """Hold the conversation's lock; yields True when it was free at once, so what was read
        before taking it is still what the conversation holds."""
        key = f"conversation:{conversation_id}"
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self._locks.hold(key, timeout=AT_ONCE))
                undisturbed = True
            except LockTimeout:
                await stack.enter_async_context(self._locks.hold(key, timeout=self._lock_timeout))
                undisturbed = False
            yield undisturbed

    async def _hand_over_due(self, conversation_id: int) -> None:
        """Give the delivery job the conversation's rows still to send (written by the desk, or
        by a run that died before handing them on)."""
        for row in await self._store.due_outbound(conversation_id):
            self._jobs.enqueue_delivery(row.id)

    async def _answer(self, turn: PendingTurn) -> TurnOutcome | None:
        """One turn; None when another job answered the message first (nothing was written)."""
        conversation, message = turn.conversation, turn.message
        assert message is not None
        conversation_id, message_id = conversation.id, message.id
        desk = self._desk if self._desk is not None and self._desk.available else None
        if desk is not None and conversation.mode != Mode.BOT:
            await desk.relay(message_id)  # a person owns it: the bot stays silent (invariant 6)
            return TurnOutcome.RELAYED

        # Off the loop: CPU-bound (encoder, intent model), and every turn in flight waits behind it.
        understanding = await asyncio.to_thread(self._engine.understand, message)
        analysis = understanding_record(understanding)
        if desk is not None and (score := await desk.take_rating(conversation_id, message.text)) is not None:
            return await self._thank(turn, {**analysis, "rating": score})
        if (vote := await self._take_text_vote(conversation, message)) is not None:
            return await self._thank(turn, {**analysis, "feedback": int(vote)})

        if self._knowledge is not None:
            await self._knowledge.refresh_if_due()
        limits = self._engine.bot.history
        await self._show_typing(conversation.channel, conversation.conversation_key)
        context = TurnContext(
            conversation.language, window(turn.history, max_turns=limits.max_turns, max_chars=limits.max_chars),
            desk=desk is not None, embedding=understanding.embedding if understanding is not None else None,
        )
        reply, message, presenter = await self._reply(conversation, message, context)

        failed = conversation.failed_turns + 1 if self._policy.failed(reply, understanding) else 0
        paused = await desk.paused(conversation.channel) if desk is not None else False
        decision = self._policy.decide(message.text, understanding, reply, failed_turns=failed, paused=paused)
        grounding = {"grounding": reply.grounding.record()} if reply.grounding is not None else {}
        record = {**analysis, **grounding, **_decision_record(decision, handed=desk is not None)}
        if decision.escalate and desk is not None:
            if presenter is not None:
                await presenter.withdraw()  # the acknowledgement is posted on its own
            await self._store.save_understanding(message_id, record)
            await self._escalate(desk, conversation, message, decision, reply)
            return TurnOutcome.ESCALATED
        if decision.rule is Rule.TRIGGER_PHRASE:  # asked for a person, and no one can join
            reply = self._engine.reach_person(reply.language)
            failed = 0
        if await self._asks_feedback(conversation, message, reply):
            by_text = self._style(conversation.channel) is FeedbackStyle.TEXT
            prompt = self._engine.bot.text("feedback_request", reply.language) if by_text else ""
            reply = replace(reply, ask_feedback=True, feedback_prompt=prompt)
        if not await self._write(AnsweredTurn(conversation, message, reply, record, failed_turns=failed)):
            return None
        return TurnOutcome.FELL_BACK if reply.source in _FALLBACKS else TurnOutcome.ANSWERED

    async def _reply(
        self, conversation: Conversation, message: StoredMessage, context: TurnContext
    ) -> tuple[Reply, StoredMessage, StreamPresenter | None]:
        """The engine's answer, shown while it grows where the channel can; the message comes
        back naming the streamed partial its reply's outbox row must replace."""
        presenter = self._presenter(conversation, message)
        if presenter is None:
            return await self._engine.reply(message, context), message, None
        # The stream slot is reserved at the first partial: an answer that does not stream (from
        # the knowledge base, small talk, a fallback) costs the database no write for it.
        try:
            reply = await self._engine.reply(message, context, on_partial=presenter.offer)
        finally:
            streamed = await presenter.settle()
        return reply, _with_stream(message, streamed), presenter

    def _presenter(self, conversation: Conversation, message: StoredMessage) -> StreamPresenter | None:
        """Partials for this turn where the channel can show them (none on SMS or WhatsApp)."""
        view = self._streams.get(conversation.channel)
        if view is None or self._stream_marks is None:
            return None
        target = StreamTarget(message.id, conversation.conversation_key, message.metadata)
        return StreamPresenter(view, self._stream_marks, target, known=message.metadata.get(STREAM_KEY))

    async def _thank(self, turn: PendingTurn, analysis: dict[str, Any]) -> TurnOutcome | None:
        """A rating or a typed vote needs no answer, only thanks, in the conversation's language."""
        conversation, message = turn.conversation, turn.message
        assert message is not None
        thanks = self._engine.bot.text("rating_thanks", conversation.language)
        reply = Reply(thanks, conversation.language, ReplySource.CANNED)
        written = await self._write(AnsweredTurn(conversation, message, reply, analysis, conversation.failed_turns))
        return TurnOutcome.ACKNOWLEDGED if written else None

    async def _write(self, turn: AnsweredTurn) -> Outbound | None:
        """The turn's one write; its reply goes out from this job when first in line."""
        if self._delivery is None:
            row = await self._store.record_turn(turn, claim=False)
            if row is not None:
                self._jobs.enqueue_delivery(row.id)
            return row
        return await self._delivery.record_and_send(
            turn.conversation.id, lambda: self._store.record_turn(turn, claim=True)
        )

    async def _escalate(
        self, desk: HandoffDesk, conversation: Conversation, message: StoredMessage, decision: Decision, reply: Reply
    ) -> None:
        """Acknowledge and hand over in one step; the suggested reply waits for an agent."""
        handoff = await desk.escalate(message.id, decision, reply)
        if handoff is None:
            # A person took the conversation between our read and now: theirs to answer.
            await desk.relay(message.id)
        await self._store.set_conversation_state(conversation.id, language=reply.language, failed_turns=0)
        await self._hand_over_due(conversation.id)  # the acknowledgement the desk wrote

    async def _asks_feedback(self, conversation: Conversation, message: StoredMessage, reply: Reply) -> bool:
        """Buttons ask under every composed answer. A "reply 1 or 2" line asks only while the
        conversation is not busy with something else: not when the customer has already written
        again (their "1" would then answer the wrong message)."""
        style = self._style(conversation.channel)
        if self._feedback is None or not asks_feedback(reply, style):
            return False
        return style is not FeedbackStyle.TEXT or not await self._store.written_since(conversation.id, message.id)

    def _style(self, channel: str) -> FeedbackStyle:
        return self._feedback_styles.get(channel, FeedbackStyle.NONE)

    async def _take_text_vote(self, conversation: Conversation, message: StoredMessage) -> Vote | None:
        """A typed "1"/"2" rates the previous answer only where the channel asked by text and
        that answer is the last thing the bot sent."""
        if self._feedback is None or self._style(conversation.channel) is not FeedbackStyle.TEXT:
            return None
        vote = parse_text_vote(message.text)
        if vote is None or (answer := await self._feedback.open_text_vote(conversation.id)) is None:
            return None
        press = VotePress(conversation.channel, conversation.conversation_key, answer, vote)
        return vote if await self._feedback.record_vote(press) is not None else None

    async def _show_typing(self, channel: str, conversation_key: str) -> None:
        """Best effort: a failed "typing…" signal must never cost the customer the answer."""
        indicator = self._typing.get(channel)
        if indicator is None:
            return
        try:
            await indicator.typing(conversation_key)
        except Exception as exc:  # the platform or network said no; the reply still goes out
            log.info("typing signal on %s failed: %s", channel, exc)


def _with_stream(message: StoredMessage, ref: str | None) -> StoredMessage:
    """The message as its reply's outbox row must inherit it: naming the streamed message the
    final answer replaces, and nothing (not a bare reservation) when there is none."""
    meta = {k: v for k, v in message.metadata.items() if k != STREAM_KEY}
    if ref is not None:
        meta[STREAM_KEY] = ref
    return message if meta == message.metadata else replace(message, metadata=meta)


_FALLBACKS = frozenset({ReplySource.KNOWLEDGE_FALLBACK, ReplySource.HOLDING})


def _decision_record(decision: Decision, *, handed: bool) -> dict[str, Any]:
    if not decision.escalate:
        return {}
    return {"escalation": {"rule": str(decision.rule), "reason": decision.reason, "handed_over": handed}}
