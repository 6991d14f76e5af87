"""What the webhooks remember about requests they did not simply accept: the signed ones that
could not be understood (dead letters) and the admin commands and clicks already acted on."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.db.models import RejectedRequestRow, ReplayRow, now

# Slack refuses signatures older than five minutes, so a key older than a day can never recur.
REPLAY_MEMORY = timedelta(days=1)


class SqlRejectedRequests:
    """`core.ports.RejectedRequests`: one row per dead-lettered webhook, without its body."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record_rejected(self, channel: str, reason: str, body: bytes) -> None:
        async with self._sessions.begin() as session:
            session.add(
                RejectedRequestRow(
                    channel=channel[:32], reason=reason[:1000], body_bytes=len(body),
                    body_sha256=hashlib.sha256(body).hexdigest(),
                )
            )


class SqlReplayGuard:
    """`core.ports.ReplayGuard`: the first caller for a key wins, in one insert."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def first_time(self, key: str) -> bool:
        try:
            async with self._sessions.begin() as session:
                await session.execute(delete(ReplayRow).where(ReplayRow.at < now() - REPLAY_MEMORY))
                session.add(ReplayRow(key=key[:128]))
        except IntegrityError:
            return False
        return True
