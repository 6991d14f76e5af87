"""What is waiting in the database, for the operator's gauges: unsent and dead-lettered outbox
rows, and handoffs no agent has claimed. Counted at scrape time; sent rows are not counted
(they only grow, and `ix_outbox_unsent` keeps this query off them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.db.models import HandoffRow, OutboxRow, now


@dataclass(frozen=True, slots=True)
class Backlog:
    outbox: dict[str, int]  # state -> rows, "sent" left out
    handoffs_waiting: int
    oldest_wait_seconds: float


async def count_backlog(sessions: async_sessionmaker[AsyncSession]) -> Backlog:
    async with sessions() as session:
        rows = await session.execute(
            select(OutboxRow.status, func.count()).where(OutboxRow.status != "sent").group_by(OutboxRow.status)
        )
        waiting, oldest = (
            await session.execute(
                select(func.count(), func.min(HandoffRow.created_at)).where(HandoffRow.state == "waiting")
            )
        ).one()
    return Backlog({status: count for status, count in rows.all()}, int(waiting), _age(oldest))


def _age(since: datetime | str | None) -> float:
    if since is None:
        return 0.0
    if isinstance(since, str):  # SQLite hands an aggregate back untyped
        since = datetime.fromisoformat(since)
    if since.tzinfo is None:
        since = since.replace(tzinfo=now().tzinfo)
    return max((now() - since).total_seconds(), 0.0)
