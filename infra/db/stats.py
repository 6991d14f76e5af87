"""`SqlStats`: the numbers behind `/csbot stats`, computed from messages, outbox, handoffs, feedback."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.feedback import RATING, THUMBS
from core.grounding import GroundingOutcome
from core.retention import with_retained
from core.stats import Stats, grounding_outcome, intent_of, top_intents
from infra.db.erasure import retained_counts
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
            handoffs = (
                await session.execute(
                    select(HandoffRow.conversation_id, HandoffRow.message_id, MessageRow.understanding)
                    .outerjoin(MessageRow, MessageRow.id == HandoffRow.message_id)
                    .where(HandoffRow.created_at >= since)
                )
            ).all()
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
            retained = await retained_counts(session, since)  # what expiry and erasure deleted
            analyses = (
                await session.scalars(
                    select(MessageRow.understanding).where(
                        MessageRow.received_at >= since, MessageRow.understanding.is_not(None)
                    )
                )
            ).all()
        outcomes = Counter(grounding_outcome(a) for a in analyses)
        delays = [
            (first_out[c] - received).total_seconds()
            for c, received in first_in.items()
            if c in first_out and first_out[c] >= received
        ]
        return with_retained(Stats(
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
            # The intent of the message that opened each handoff (an admin's takeover is not a
            # customer's intent, so it is not counted here).
            handoff_intents=top_intents(intent_of(h.understanding) for h in handoffs if h.message_id is not None),
            grounded=outcomes[str(GroundingOutcome.GROUNDED)],
            regenerated=outcomes[str(GroundingOutcome.REGENERATED)],
            fallen_back=outcomes[str(GroundingOutcome.FALLEN_BACK)],
        ), retained)

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
