"""`SqlAdminAudit`: every `/csbot` command, allowed or refused, with its outcome."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import NotFound
from infra.db.models import AdminAuditRow, now


class SqlAdminAudit:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record_admin(
        self, *, user_id: str, command: str, text: str, allowed: bool, outcome: str, response_url: str = "",
        channel_id: str = "",
    ) -> int:
        async with self._sessions.begin() as session:
            row = AdminAuditRow(
                user_id=user_id[:64],
                command=command[:64],
                text=text[:4000],
                channel_id=channel_id[:64],
                allowed=allowed,
                outcome=outcome,
                response_url=response_url,
                finished_at=None if outcome == "queued" else now(),
            )
            session.add(row)
            await session.flush()
            return row.id

    async def finish_admin(self, audit_id: int, outcome: str) -> None:
        async with self._sessions.begin() as session:
            # The response_url is a short-lived credential: forget it once used.
            await session.execute(
                update(AdminAuditRow).where(AdminAuditRow.id == audit_id).values(outcome=outcome, finished_at=now(), response_url="")
            )

    async def admin_request(self, audit_id: int) -> tuple[str, str, str, str]:
        async with self._sessions() as session:
            row = await session.get(AdminAuditRow, audit_id)
        if row is None:
            raise NotFound(f"admin command {audit_id} does not exist")
        return row.user_id, row.text, row.channel_id, row.response_url
