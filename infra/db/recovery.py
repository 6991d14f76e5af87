"""SQL for `core.recovery`: what a crash may have left behind."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.records import InboundStatus, OutboxStatus
from infra.db.models import MessageRow, OutboxRow


def _before(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


class SqlRecoveryQueries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, limit: int = 500) -> None:
        self._sessions = sessions
        self._limit = limit

    async def stale_unanswered(self, older_than: float) -> list[int]:
        query = (
            select(MessageRow.id)
            .where(MessageRow.status == InboundStatus.RECEIVED.value, MessageRow.received_at < _before(older_than))
            .order_by(MessageRow.id)
            .limit(self._limit)
        )
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def stale_pending(self, older_than: float) -> list[int]:
        query = (
            select(OutboxRow.id)
            .where(
                OutboxRow.status == OutboxStatus.PENDING.value,
                OutboxRow.created_at < _before(older_than),
                OutboxRow.not_before <= time.time(),
            )
            .order_by(OutboxRow.id)
            .limit(self._limit)
        )
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def stale_sending(self, older_than: float) -> list[int]:
        query = (
            select(OutboxRow.id)
            .where(OutboxRow.status == OutboxStatus.SENDING.value, OutboxRow.sending_since < _before(older_than))
            .order_by(OutboxRow.id)
            .limit(self._limit)
        )
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def fail_unknown(self, outbound_ids: list[int], reason: str) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(outbound_ids), OutboxRow.status == OutboxStatus.SENDING.value)
                .values(status=OutboxStatus.FAILED.value, last_error=reason)
            )
            return result.rowcount
