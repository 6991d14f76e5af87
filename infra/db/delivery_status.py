"""`SqlDeliveryStatus`: delivery receipts written onto outbox rows, found by platform message id."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery_status import ReceiptOutcome
from core.records import OutboxStatus
from infra.db.models import OutboxRow

# Which states a receipt may move a row out of. A "delivered" arriving after "failed" (receipts
# can overtake each other) must not hide the failure.
_FROM = {
    ReceiptOutcome.DELIVERED: (OutboxStatus.SENT.value,),
    ReceiptOutcome.FAILED: (OutboxStatus.SENT.value, OutboxStatus.DELIVERED.value),
}


class SqlDeliveryStatus:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, channel: str, platform_message_id: str, outcome: ReceiptOutcome, *, error: str = "") -> bool:
        if not platform_message_id:
            return False
        values: dict[str, str] = {"status": outcome.value}
        if outcome is ReceiptOutcome.FAILED:
            values["last_error"] = error[:2000]
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.channel == channel,
                    OutboxRow.platform_message_id == platform_message_id,
                    OutboxRow.status.in_(_FROM[outcome]),
                )
                .values(**values)
            )
            return result.rowcount > 0
