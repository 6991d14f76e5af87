"""`SqlStats`: the numbers behind `/csbot stats`, computed from messages, outbox, handoffs, feedback."""

from __future__ import annotations

import statistics
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.stats import Stats
from infra.db.models import FeedbackRow, HandoffRow, MessageRow, OutboxRow


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
            handed = set(
                (
                    await session.scalars(
                        select(HandoffRow.conversation_id).where(HandoffRow.created_at >= since).distinct()
                    )
                ).all()
            )
            count, average, satisfied = (
                await session.execute(
                    select(
                        func.count(FeedbackRow.id),
                        func.avg(FeedbackRow.score),
                        func.count(FeedbackRow.id).filter(FeedbackRow.score >= 4),
                    ).where(FeedbackRow.kind == "rating", FeedbackRow.created_at >= since)
                )
            ).one()
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
        )
