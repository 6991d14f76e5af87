"""`SqlFeedbackStore`: 👍/👎 votes on answers, one per answer (the feedback table's unique key)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.feedback import ASK_KEY, ASKED, THUMBS, VotePress
from core.records import Role
from infra.db.models import FeedbackRow, OutboxRow


class SqlFeedbackStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record_vote(self, press: VotePress) -> str | None:
        """One short transaction, since it runs while the platform waits for its 200."""
        try:
            return await self._record(press)
        except IntegrityError:  # a concurrent first press on the same answer won the insert
            return await self._record(press)

    async def _record(self, press: VotePress) -> str | None:
        async with self._sessions.begin() as session:
            answer = await session.scalar(
                select(OutboxRow).where(
                    OutboxRow.id == press.outbound_id,
                    OutboxRow.channel == press.channel,
                    OutboxRow.conversation_key == press.conversation_key,
                    OutboxRow.role == Role.BOT.value,
                    OutboxRow.meta[ASK_KEY].as_string() == ASKED,  # only answers that asked
                )
            )
            if answer is None:
                return None
            changed = await session.execute(
                update(FeedbackRow)
                .where(FeedbackRow.outbound_id == answer.id, FeedbackRow.kind == THUMBS)
                .values(score=int(press.vote))
            )
            if changed.rowcount == 0:
                session.add(
                    FeedbackRow(conversation_id=answer.conversation_id, outbound_id=answer.id, kind=THUMBS,
                                score=int(press.vote))
                )
            return answer.language

    async def open_text_vote(self, conversation_id: int) -> int | None:
        """The question closes with the next thing the bot writes (the thanks, say), not with the
        vote itself: a turn re-run after a crash between the vote and the thanks finds it open."""
        async with self._sessions() as session:
            latest = (
                await session.execute(
                    select(OutboxRow.id, OutboxRow.meta)
                    .where(OutboxRow.conversation_id == conversation_id)
                    .order_by(OutboxRow.id.desc())
                    .limit(1)
                )
            ).first()
        if latest is None or (latest.meta or {}).get(ASK_KEY) != ASKED:
            return None
        return int(latest.id)
