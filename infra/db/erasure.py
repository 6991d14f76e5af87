"""`SqlPersonalData`: deleting conversations by age (retention) or by customer (erasure).

Each deletion is one transaction that deletes children first with RETURNING, so the anonymous
counts it records are exactly the rows this transaction removed: two workers expiring at once
never count a row twice. Afterwards SQLite's write-ahead log is checkpointed and truncated:
with `secure_delete` on (see `infra.db.engine`) the freed pages are zeroed, and the log no
longer holds the old page images, so the words are gone from the files too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.handoff import HandoffState
from core.knowledge_suggestions import ACTIVE
from core.retention import DayCounts, Erased, count_days
from infra.db.models import (
    ConversationRow,
    FeedbackRow,
    HandoffRow,
    KnowledgeDocumentRow,
    MessageRow,
    OutboxRow,
    RetainedCountRow,
)

_BULK = {"synchronize_session": False}


@dataclass(frozen=True, slots=True)
class _Scope:
    """Which rows of each table one deletion removes."""

    feedback: ColumnElement[bool]
    handoffs: ColumnElement[bool]
    outbox: ColumnElement[bool]
    messages: ColumnElement[bool]
    conversations: ColumnElement[bool]


class SqlPersonalData:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def erase_customer(self, channel: str, customer_id: str) -> Erased:
        async with self._sessions.begin() as session:
            ids = list((await session.scalars(
                select(ConversationRow.id).where(
                    ConversationRow.channel == channel,
                    or_(ConversationRow.customer_id == customer_id, ConversationRow.conversation_key == customer_id),
                )
            )).all())
            threads = tuple((await session.scalars(
                select(HandoffRow.desk_thread_ts).where(HandoffRow.conversation_id.in_(ids), HandoffRow.desk_thread_ts != "")
            )).all())
            # Their words in other people's conversations (a group chat) go too.
            said = and_(MessageRow.channel == channel, MessageRow.sender_id == customer_id)
            erased = await _delete(session, _Scope(
                feedback=FeedbackRow.conversation_id.in_(ids),
                handoffs=HandoffRow.conversation_id.in_(ids),
                outbox=OutboxRow.conversation_id.in_(ids),
                messages=or_(MessageRow.conversation_id.in_(ids), said),
                conversations=ConversationRow.id.in_(ids),
            ))
        await self._scrub()
        return Erased(erased.conversations, erased.messages, threads)

    async def expire(self, before: datetime) -> Erased:
        async with self._sessions.begin() as session:
            erased = await _delete(session, _Scope(
                feedback=FeedbackRow.created_at < before,
                handoffs=and_(HandoffRow.created_at < before, HandoffRow.state == HandoffState.RESOLVED.value),
                outbox=OutboxRow.created_at < before,
                messages=MessageRow.received_at < before,
                # Only conversations left empty: an open handoff or a recent message keeps one.
                conversations=and_(
                    ConversationRow.updated_at < before,
                    ~exists().where(MessageRow.conversation_id == ConversationRow.id),
                    ~exists().where(HandoffRow.conversation_id == ConversationRow.id),
                ),
            ))
        if erased.messages or erased.conversations:
            await self._scrub()
        return erased

    async def _scrub(self) -> None:
        async with self._sessions() as session:
            connection = await session.connection()
            if connection.dialect.name == "sqlite":
                await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


async def retained_counts(session: AsyncSession, since: datetime) -> list[DayCounts]:
    """The anonymous counts of deleted records from `since`'s day on (for `SqlStats`)."""
    rows = (await session.scalars(select(RetainedCountRow).where(RetainedCountRow.day >= since.date()))).all()
    return [
        DayCounts(r.day, r.messages, r.conversations, r.handed_over, r.ratings, r.rating_sum, r.satisfied, r.votes,
                  r.thumbs_up)
        for r in rows
    ]


async def _delete(session: AsyncSession, scope: _Scope) -> Erased:
    feedback = (await session.execute(
        delete(FeedbackRow).where(scope.feedback).returning(FeedbackRow.kind, FeedbackRow.score, FeedbackRow.created_at),
        execution_options=_BULK,
    )).all()
    # Suggestions an admin has not approved hold the customer's question; approved ones are
    # knowledge now (redacted, the name removed) and stay.
    await session.execute(
        delete(KnowledgeDocumentRow).where(
            KnowledgeDocumentRow.handoff_id.in_(select(HandoffRow.id).where(scope.handoffs)),
            KnowledgeDocumentRow.status != ACTIVE,
        ),
        execution_options=_BULK,
    )
    handoffs = (await session.execute(
        delete(HandoffRow).where(scope.handoffs).returning(HandoffRow.conversation_id, HandoffRow.created_at),
        execution_options=_BULK,
    )).all()
    await session.execute(delete(OutboxRow).where(scope.outbox), execution_options=_BULK)
    messages = (await session.execute(
        delete(MessageRow).where(scope.messages).returning(MessageRow.conversation_id, MessageRow.received_at),
        execution_options=_BULK,
    )).all()
    conversations = (await session.execute(
        delete(ConversationRow).where(scope.conversations).returning(ConversationRow.id), execution_options=_BULK,
    )).all()
    for day in count_days(messages, handoffs, feedback):
        session.add(RetainedCountRow(
            day=day.day, messages=day.messages, conversations=day.conversations, handed_over=day.handed_over,
            ratings=day.ratings, rating_sum=day.rating_sum, satisfied=day.satisfied, votes=day.votes,
            thumbs_up=day.thumbs_up,
        ))
    return Erased(conversations=len(conversations), messages=len(messages))
