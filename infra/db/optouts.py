"""`SqlOptOuts`: the `OptOuts` port on SQLAlchemy. The unique (channel, address) constraint
settles concurrent STOPs from two webhook deliveries; the loser updates the winner's row."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.db.models import now
from infra.db.optout_models import OptOutRow


class SqlOptOuts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def is_opted_out(self, channel: str, address: str) -> bool:
        async with self._sessions() as session:
            state = await session.scalar(
                select(OptOutRow.opted_out).where(OptOutRow.channel == channel, OptOutRow.address == address)
            )
        return bool(state)

    async def opt_out(self, channel: str, address: str, *, reason: str = "") -> None:
        if await self._set(channel, address, opted_out=True, reason=reason):
            return
        try:
            async with self._sessions.begin() as session:
                session.add(OptOutRow(channel=channel, address=address, opted_out=True, reason=reason[:64]))
        except IntegrityError:
            await self._set(channel, address, opted_out=True, reason=reason)

    async def opt_in(self, channel: str, address: str) -> None:
        await self._set(channel, address, opted_out=False, reason="opt-in")

    async def _set(self, channel: str, address: str, *, opted_out: bool, reason: str) -> bool:
        """Update an existing row; False when the address has none yet."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OptOutRow)
                .where(OptOutRow.channel == channel, OptOutRow.address == address)
                .values(opted_out=opted_out, reason=reason[:64], updated_at=now())
            )
            return result.rowcount == 1
