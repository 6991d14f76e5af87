"""`SqlStats`: the numbers behind `/csbot stats`, computed from messages, outbox, handoffs, feedback.

Also `opening_messages`: which customer message opened each handoff. No column links the two;
the turn that escalates records an "escalation" (handed_over) in the message's understanding
and marks the message answered (by the acknowledgement) in the transaction that opens the
handoff, so the opener is the conversation's latest such message received before the handoff
was created.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Select

from core.feedback import THUMBS
from core.records import InboundStatus
from core.stats import NO_INTENT, Stats, intent_of, top_intents
from infra.db.models import FeedbackRow, HandoffRow, MessageRow, OutboxRow

RATING = "rating"  # feedback.kind of a 1–5 rating after a handoff
# `SqlHandoffStore.takeover`'s rule: an admin took the conversation, no message opened it.
ADMIN_TAKEOVER = "admin_takeover"
ESCALATION = "escalation"  # the key the turn records a handoff decision under, in `understanding`


class Opener(NamedTuple):
    """The message that opened a handoff: its id and what the NLU made of it."""

    id: int
    understanding: dict[str, Any]


def opened_a_handoff(understanding: Mapping[str, Any] | None) -> bool:
    escalation = (understanding or {}).get(ESCALATION)
    return isinstance(escalation, Mapping) and bool(escalation.get("handed_over"))


async def opening_messages(
    session: AsyncSession, handoffs: Sequence[HandoffRow], conversations: Iterable[int] | Select[Any]
) -> dict[int, Opener]:
    """Handoff id → the message that opened it, for the handoffs that one opened (not takeovers).

    `conversations` (ids, or a query of them) bounds the messages read to the handoffs' own.
    """
    escalated = [h for h in handoffs if h.rule != ADMIN_TAKEOVER]
    if not escalated:
        return {}
    latest = max(h.created_at for h in escalated)
    rows = (
        await session.execute(
            select(MessageRow.id, MessageRow.conversation_id, MessageRow.received_at, MessageRow.understanding)
            .where(
                MessageRow.conversation_id.in_(conversations),
                MessageRow.status == InboundStatus.ANSWERED.value,
                MessageRow.received_at <= latest,
                # A cheap pre-filter both databases understand; the JSON is checked below.
                cast(MessageRow.understanding, String).like(f'%"{ESCALATION}"%'),
            )
            .order_by(MessageRow.id)
        )
    ).all()
    openers: dict[int, list[Any]] = {}
    for row in rows:
        if opened_a_handoff(row.understanding):
            openers.setdefault(row.conversation_id, []).append(row)
    found: dict[int, Opener] = {}
    for handoff in escalated:
        before = [m for m in openers.get(handoff.conversation_id, []) if m.received_at <= handoff.created_at]
        if before:
            found[handoff.id] = Opener(before[-1].id, dict(before[-1].understanding or {}))
    return found


class SqlStats:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def stats(self, since: datetime, *, days: int) -> Stats:
        async with self._sessions() as session:
            messages = await session.scalar(select(func.count(MessageRow.id)).where(MessageRow.received_at >= since))
            first_in = dict(
                (
                    await session.execute(
                        select(MessageRow.conversation_id, func.min(MessageRow.received_at))
                        .where(MessageRow.received_at >= since)
                        .group_by(MessageRow.conversation_id)
                    )
                ).all()
            )
            first_out = dict(
                (
                    await session.execute(
                        select(OutboxRow.conversation_id, func.min(OutboxRow.sent_at))
                        .where(OutboxRow.sent_at.is_not(None), OutboxRow.sent_at >= since)
                        .group_by(OutboxRow.conversation_id)
                    )
                ).all()
            )
            handoffs = (await session.scalars(select(HandoffRow).where(HandoffRow.created_at >= since))).all()
            handed = {h.conversation_id for h in handoffs}
            count, average, satisfied = (
                await session.execute(
                    select(
                        func.count(FeedbackRow.id),
                        func.avg(FeedbackRow.score),
                        func.count(FeedbackRow.id).filter(FeedbackRow.score >= 4),
                    ).where(FeedbackRow.kind == RATING, FeedbackRow.created_at >= since)
                )
            ).one()
            votes, thumbs_up = (
                await session.execute(
                    select(func.count(FeedbackRow.id), func.count(FeedbackRow.id).filter(FeedbackRow.score > 0)).where(
                        FeedbackRow.kind == THUMBS, FeedbackRow.created_at >= since
                    )
                )
            ).one()
            downvoted = await self._downvoted_intents(session, since)
            opened = await opening_messages(
                session, handoffs, select(HandoffRow.conversation_id).where(HandoffRow.created_at >= since)
            )
        delays = [
            (first_out[c] - received).total_seconds()
            for c, received in first_in.items()
            if c in first_out and first_out[c] >= received
        ]
        return Stats(
            days=days,
            messages=int(messages or 0),
            conversations=len(first_in),
            handed_over=len(handed & set(first_in)),
            median_first_reply_seconds=statistics.median(delays) if delays else None,
            ratings=int(count or 0),
            rating_average=float(average) if average is not None else None,
            satisfied=int(satisfied or 0),
            votes=int(votes or 0),
            thumbs_up=int(thumbs_up or 0),
            downvoted_intents=top_intents(downvoted),
            handoff_intents=top_intents(
                intent_of(opened[h.id].understanding) if h.id in opened else NO_INTENT for h in handoffs
            ),
        )

    @staticmethod
    async def _downvoted_intents(session: AsyncSession, since: datetime) -> list[str]:
        """One intent per 👎: that of the customer message the voted answer replied to."""
        understandings = (
            await session.execute(
                select(MessageRow.understanding)
                .select_from(FeedbackRow)
                .outerjoin(OutboxRow, OutboxRow.id == FeedbackRow.outbound_id)
                .outerjoin(MessageRow, MessageRow.id == OutboxRow.in_reply_to)
                .where(FeedbackRow.kind == THUMBS, FeedbackRow.score < 0, FeedbackRow.created_at >= since)
            )
        ).scalars()
        return [intent_of(u) for u in understandings]
