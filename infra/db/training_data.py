"""Read-only queries that feed the learning exports and retraining.

Conversations are read in batches by id (keyset pagination), so exporting
a large database streams instead of loading every message at once. No
query writes; exports can run against a read replica.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.feedback import THUMBS
from core.learning.corrections import Correction
from core.learning.intent_export import CORRECTED_KEY, IntentRecord
from core.learning.transcripts import ConversationLog, LogEntry
from core.records import OutboxStatus, Role
from infra.db.models import ConversationRow, FeedbackRow, MessageRow, OutboxRow

# A dead-lettered reply never reached the customer, so it is not part of the conversation.
UNSENT: Final = (OutboxStatus.FAILED.value,)


class TrainingDataQueries:
    """Conversation logs, labelled messages and intent corrections, read from the database."""

    __slots__ = ("_sessions",)

    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def conversation_logs(self, *, since: datetime | None = None, batch_size: int = 200) -> AsyncIterator[ConversationLog]:
        """Every conversation (with a customer message at or after ``since``), in id order."""
        after = 0
        while True:
            query = select(ConversationRow.id).where(ConversationRow.id > after).order_by(ConversationRow.id).limit(batch_size)
            if since is not None:
                query = query.where(
                    exists().where(MessageRow.conversation_id == ConversationRow.id, MessageRow.received_at >= since)
                )
            async with self._sessions() as session:
                ids = list((await session.scalars(query)).all())
                if not ids:
                    return
                logs = await self._logs(session, ids)
            for log in logs:
                yield log
            after = ids[-1]

    async def intent_records(self, *, since: datetime | None = None, batch_size: int = 1000) -> AsyncIterator[IntentRecord]:
        """Customer messages (received at or after ``since``) with their stored intents, in id order."""
        after = 0
        while True:
            query = (
                select(MessageRow.id, MessageRow.text, MessageRow.understanding)
                .where(MessageRow.id > after)
                .order_by(MessageRow.id)
                .limit(batch_size)
            )
            if since is not None:
                query = query.where(MessageRow.received_at >= since)
            async with self._sessions() as session:
                rows = (await session.execute(query)).all()
            if not rows:
                return
            for message_id, text, understanding in rows:
                yield IntentRecord.from_understanding(message_id, text, understanding)
            after = rows[-1][0]

    async def corrections(self) -> list[Correction]:
        """Messages whose understanding carries a non-empty ``corrected_intent``, in id order."""
        corrected = MessageRow.understanding[CORRECTED_KEY].as_string()
        query = (
            select(MessageRow.id, MessageRow.text, corrected)
            .where(corrected.is_not(None), corrected != "")
            .order_by(MessageRow.id)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [Correction(message_id, text, intent) for message_id, text, intent in rows if intent and intent.strip()]

    async def _logs(self, session: AsyncSession, ids: Sequence[int]) -> list[ConversationLog]:
        messages = (
            await session.execute(
                select(MessageRow.id, MessageRow.conversation_id, MessageRow.text, MessageRow.received_at).where(
                    MessageRow.conversation_id.in_(ids)
                )
            )
        ).all()
        replies = (
            await session.execute(
                select(
                    OutboxRow.id, OutboxRow.conversation_id, OutboxRow.in_reply_to, OutboxRow.role,
                    OutboxRow.text, OutboxRow.source, OutboxRow.created_at,
                ).where(OutboxRow.conversation_id.in_(ids), OutboxRow.status.not_in(UNSENT))
            )
        ).all()
        disliked = set(
            (
                await session.scalars(
                    select(FeedbackRow.outbound_id).where(
                        FeedbackRow.conversation_id.in_(ids),
                        FeedbackRow.kind == THUMBS,
                        FeedbackRow.score <= 0,
                        FeedbackRow.outbound_id.is_not(None),
                    )
                )
            ).all()
        )
        # Same order as the conversation history the engine builds: a reply sits right after
        # the message it answers; a reply to nothing (an agent's) at its creation time.
        received = {m.id: m.received_at for m in messages}
        keyed: dict[int, list[tuple[tuple[datetime, int, int], LogEntry]]] = {i: [] for i in ids}
        for m in messages:
            keyed[m.conversation_id].append(((m.received_at, 0, m.id), LogEntry(Role.CUSTOMER, m.text)))
        for o in replies:
            anchor = received.get(o.in_reply_to, o.created_at) if o.in_reply_to is not None else o.created_at
            entry = LogEntry(_speaker(o.role), o.text, o.source, o.id in disliked)
            keyed[o.conversation_id].append(((anchor, 1, o.id), entry))
        return [
            ConversationLog(i, tuple(entry for _, entry in sorted(keyed[i], key=lambda pair: pair[0]))) for i in ids
        ]


def _speaker(role: str) -> Role:
    """Outbox role → speaker; anything but an agent's reply counts as the bot's."""
    return Role.AGENT if role == Role.AGENT.value else Role.BOT
