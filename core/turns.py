"""Processing inbound messages: one reply per message, in order, whoever runs the job.

A job names one message, but it drains the conversation: under the conversation's lock it
answers every unanswered message oldest first. So jobs may run in any order, twice, or on
different workers, and replies are still written once each and in arrival order.

Each turn: a conversation a person owns is relayed to the agents, never answered by the bot;
otherwise NLU reads the message, a pending post-handoff rating or a typed 👍/👎 vote is taken,
the engine answers, and the escalation policy decides whether that answer goes out (asking the
customer for a vote where the channel can) or a person takes over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.desk import HandoffDesk
from core.engine import ConversationEngine, TurnContext, understanding_record
from core.feedback import FeedbackStyle, Vote, VotePress, asks_feedback, parse_text_vote
from core.handoff import Mode
from core.history import window
from core.knowledge_index import KnowledgeIndex
from core.observe import UNOBSERVED, Observer, TurnOutcome
from core.policy import Decision, Policy, Rule
from core.ports import FeedbackStore, JobQueue, Locks, Store, TypingIndicator
from core.records import Conversation, StoredMessage
from core.reply import Reply, ReplySource

log = logging.getLogger(__name__)


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
        bot = engine.bot
        self._policy = Policy(bot.escalation, min_grounding=bot.retrieval.min_score)

    async def process(self, message_id: int) -> int:
        """Handle what is unhandled in this message's conversation; returns messages handled."""
        message = await self._store.get_message(message_id)
        conversation_id = message.conversation_id
        written = 0
        async with self._locks.hold(f"conversation:{conversation_id}", timeout=self._lock_timeout):
            while (pending := await self._store.next_unanswered(conversation_id)) is not None:
                started = time.perf_counter()
                outcome = await self._answer(conversation_id, pending)
                self._observer.turn_finished(outcome, time.perf_counter() - started)
                written += 1
        # Also re-enqueues rows a crashed run wrote but never handed to delivery.
        for row in await self._store.due_outbound(conversation_id):
            self._jobs.enqueue_delivery(row.id)
        return written

    async def _answer(self, conversation_id: int, message: StoredMessage) -> TurnOutcome:
        conversation = await self._store.get_conversation(conversation_id)
        message_id = message.id
        desk = self._desk if self._desk is not None and self._desk.available else None
        if desk is not None and conversation.mode != Mode.BOT:
            await desk.relay(message_id)  # a person owns it: the bot stays silent (invariant 6)
            return TurnOutcome.RELAYED

        understanding = self._engine.understand(message)
        analysis = understanding_record(understanding)
        if desk is not None and (score := await desk.take_rating(conversation_id, message.text)) is not None:
            await self._store.save_understanding(message_id, {**analysis, "rating": score})
            thanks = self._engine.bot.text("rating_thanks", conversation.language)
            await self._store.record_reply(message_id, Reply(thanks, conversation.language, ReplySource.CANNED))
            return TurnOutcome.ACKNOWLEDGED
        if (vote := await self._take_text_vote(conversation, message)) is not None:
            await self._store.save_understanding(message_id, {**analysis, "feedback": int(vote)})
            thanks = self._engine.bot.text("rating_thanks", conversation.language)
            await self._store.record_reply(message_id, Reply(thanks, conversation.language, ReplySource.CANNED))
            return TurnOutcome.ACKNOWLEDGED

        if self._knowledge is not None:
            await self._knowledge.refresh()
        limits = self._engine.bot.history
        history = await self._store.history(conversation_id, message_id, limits.max_turns)
        await self._show_typing(conversation.channel, conversation.conversation_key)
        context = TurnContext(
            conversation.language, window(history, max_turns=limits.max_turns, max_chars=limits.max_chars), desk=desk is not None
        )
        reply = await self._engine.reply(message, context)

        failed = conversation.failed_turns + 1 if self._policy.failed(reply, understanding) else 0
        paused = await desk.paused(conversation.channel) if desk is not None else False
        decision = self._policy.decide(message.text, understanding, reply, failed_turns=failed, paused=paused)
        grounding = {"grounding": reply.grounding.record()} if reply.grounding is not None else {}
        record = {**analysis, **grounding, **_decision_record(decision, handed=desk is not None)}
        await self._store.save_understanding(message_id, record)
        if decision.escalate and desk is not None:
            await self._escalate(desk, conversation, message, decision, reply)
            return TurnOutcome.ESCALATED
        if decision.rule is Rule.TRIGGER_PHRASE:  # asked for a person, and no one can join
            reply = self._engine.reach_person(reply.language)
            failed = 0
        if await self._asks_feedback(conversation, message, reply):
            by_text = self._style(conversation.channel) is FeedbackStyle.TEXT
            prompt = self._engine.bot.text("feedback_request", reply.language) if by_text else ""
            reply = replace(reply, ask_feedback=True, feedback_prompt=prompt)
        await self._store.record_reply(message_id, reply)
        await self._store.set_conversation_state(conversation_id, language=reply.language, failed_turns=failed)
        return TurnOutcome.FELL_BACK if reply.source in _FALLBACKS else TurnOutcome.ANSWERED

    async def _escalate(
        self, desk: HandoffDesk, conversation: Conversation, message: StoredMessage, decision: Decision, reply: Reply
    ) -> None:
        """Acknowledge and hand over in one step; the suggested reply waits for an agent."""
        handoff = await desk.escalate(message.id, decision, reply)
        if handoff is None:
            # A person took the conversation between our read and now: theirs to answer.
            await desk.relay(message.id)
        await self._store.set_conversation_state(conversation.id, language=reply.language, failed_turns=0)

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


_FALLBACKS = frozenset({ReplySource.KNOWLEDGE_FALLBACK, ReplySource.HOLDING})


def _decision_record(decision: Decision, *, handed: bool) -> dict[str, Any]:
    if not decision.escalate:
        return {}
    return {"escalation": {"rule": str(decision.rule), "reason": decision.reason, "handed_over": handed}}
