"""`SqlBotState`: run-time switches (the admin pause) in the database, so every process sees them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.db.models import BotStateRow, now


class SqlBotState:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get_state(self, key: str) -> dict[str, Any]:
        async with self._sessions() as session:
            value = await session.scalar(select(BotStateRow.value).where(BotStateRow.key == key))
        return dict(value or {})

    async def set_state(self, key: str, value: dict[str, Any]) -> None:
        """Upsert; a concurrent first insert of the same key turns into an update."""
        for _ in range(2):
            async with self._sessions.begin() as session:
                result = await session.execute(
                    update(BotStateRow).where(BotStateRow.key == key).values(value=dict(value), updated_at=now())
                )
                if result.rowcount == 1:
                    return
            try:
                async with self._sessions.begin() as session:
                    session.add(BotStateRow(key=key, value=dict(value)))
                return
            except IntegrityError:
                continue

    async def claim_period(self, key: str, interval: timedelta) -> bool:
        """Compare-and-set on the row's time: whoever moves it forward owns this period."""
        stamp = now()
        async with self._sessions.begin() as session:
            claimed = await session.execute(
                update(BotStateRow)
                .where(BotStateRow.key == key, BotStateRow.updated_at <= stamp - interval)
                .values(value={"claimed_at": stamp.isoformat()}, updated_at=stamp)
            )
            if claimed.rowcount == 1:
                return True
            if await session.scalar(select(BotStateRow.key).where(BotStateRow.key == key)) is not None:
                return False
        try:
            async with self._sessions.begin() as session:
                session.add(BotStateRow(key=key, value={"claimed_at": stamp.isoformat()}, updated_at=stamp))
            return True
        except IntegrityError:  # another worker made the first claim at the same moment
            return False
