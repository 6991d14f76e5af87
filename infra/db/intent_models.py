"""`SqlIntentModels`: the `intent_models` table, where trained intent models live so every pod
can load them (no shared volume). Versions count up per bot; exactly one row per bot is active."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.db.models import IntentModelRow

# Versions kept per bot (the active one included): enough to roll back, bounded in size.
KEEP: Final = 5
INSTALL_ATTEMPTS: Final = 5


@dataclass(frozen=True, slots=True)
class StoredModel:
    bot: str
    version: int
    data: bytes
    metrics: dict[str, Any]

    @property
    def location(self) -> str:
        return model_location(self.bot, self.version)


def model_location(bot: str, version: int) -> str:
    """How logs and `csbot train` name a stored model: table, bot and version."""
    return f"intent_models[{bot} v{version}]"


class SqlIntentModels:
    __slots__ = ("_sessions",)

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def active_version(self, bot: str) -> int | None:
        """The active model's version: the cheap question a polling worker asks."""
        async with self._sessions() as session:
            return await session.scalar(_active(bot, IntentModelRow.version))

    async def active(self, bot: str) -> StoredModel | None:
        async with self._sessions() as session:
            row = (await session.execute(_active(bot, IntentModelRow.version, IntentModelRow.model,
                                                 IntentModelRow.metrics))).first()
        return None if row is None else StoredModel(bot, row.version, row.model, dict(row.metrics))

    async def add(self, bot: str, data: bytes, metrics: dict[str, Any]) -> int:
        """Store `data` as the bot's next version and make it the active one, in one transaction;
        versions older than the last `KEEP` go. Two installs at once collide on (bot, version):
        the later one retries on top of the earlier, so versions stay a sequence."""
        for attempt in range(1, INSTALL_ATTEMPTS + 1):
            try:
                async with self._sessions.begin() as session:
                    latest = await session.scalar(select(func.max(IntentModelRow.version)).where(IntentModelRow.bot == bot))
                    version = (latest or 0) + 1
                    await session.execute(
                        update(IntentModelRow).where(IntentModelRow.bot == bot, IntentModelRow.active).values(active=False)
                    )
                    session.add(IntentModelRow(bot=bot, version=version, model=data, metrics=metrics, active=True))
                    await session.execute(
                        delete(IntentModelRow).where(IntentModelRow.bot == bot, IntentModelRow.version <= version - KEEP)
                    )
                return version
            except IntegrityError:
                if attempt == INSTALL_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")


def _active(bot: str, *columns: Any) -> Any:
    return select(*columns).where(IntentModelRow.bot == bot, IntentModelRow.active)
