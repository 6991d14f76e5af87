"""Processing inbound messages: one reply per message, in order, whoever runs the job.

A job names one message, but it drains the conversation: under the conversation's lock it
answers every unanswered message oldest first. So jobs may run in any order, twice, or on
different workers, and replies are still written once each and in arrival order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from core.engine import ConversationEngine, TurnContext
from core.history import window
from core.ports import JobQueue, Locks, Store, TypingIndicator
from core.reply import ReplySource

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
    ) -> None:
        self._store = store
        self._typing = typing or {}
        self._jobs = jobs
        self._locks = locks
        self._engine = engine
        self._lock_timeout = lock_timeout

    async def process(self, message_id: int) -> int:
        """Answer what is unanswered in this message's conversation; returns replies written."""
        message = await self._store.get_message(message_id)
        conversation_id = message.conversation_id
        written = 0
        async with self._locks.hold(f"conversation:{conversation_id}", timeout=self._lock_timeout):
            while (pending := await self._store.next_unanswered(conversation_id)) is not None:
                await self._answer(conversation_id, pending.id)
                written += 1
        # Also re-enqueues rows a crashed run wrote but never handed to delivery.
        for row in await self._store.due_outbound(conversation_id):
            self._jobs.enqueue_delivery(row.id)
        return written

    async def _answer(self, conversation_id: int, message_id: int) -> None:
        conversation = await self._store.get_conversation(conversation_id)
        message = await self._store.get_message(message_id)
        limits = self._engine.bot.history
        history = await self._store.history(conversation_id, message_id, limits.max_turns)

        await self._show_typing(conversation.channel, conversation.conversation_key)
        context = TurnContext(conversation.language, window(history, max_turns=limits.max_turns, max_chars=limits.max_chars))
        reply = await self._engine.reply(message, context)
        await self._store.record_reply(message_id, reply)
        failed = conversation.failed_turns + 1 if reply.needs_human or reply.source is ReplySource.HOLDING else 0
        await self._store.set_conversation_state(conversation_id, language=reply.language, failed_turns=failed)

    async def _show_typing(self, channel: str, conversation_key: str) -> None:
        """Best effort: a failed "typing…" signal must never cost the customer the answer."""
        indicator = self._typing.get(channel)
        if indicator is None:
            return
        try:
            await indicator.typing(conversation_key)
        except Exception as exc:  # the platform or network said no; the reply still goes out
            log.info("typing signal on %s failed: %s", channel, exc)
