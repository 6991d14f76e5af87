"""The jobs, as plain coroutines over `Services`: the one code path for Celery and in-process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import SentNotRecorded
from core.messages import Delivered
from core.services import Services


async def process_inbound(services: Services, message_id: int) -> int:
    return await services.turns.process(message_id)


async def deliver(services: Services, outbound_id: int, sent_as: str | None = None) -> int:
    """`sent_as`: the platform id of a send an earlier run made but could not record."""
    receipt = Delivered(platform_message_id=sent_as) if sent_as is not None else None
    return await services.delivery.deliver(outbound_id, receipt=receipt)


@dataclass(frozen=True, slots=True)
class RecordReceipt:
    """What follows `SentNotRecorded`, whichever job raised it and whichever runner runs it.

    The platform has the message; only the outbox write failed. Running the failed job again
    would do the wrong thing: a turn would find its message answered and leave the row in
    `sending`, and a drain may have sent a later row than the one its job named. The follow-up
    is a delivery run for the row that was sent, carrying its receipt: it records the send and
    never sends the row again. Celery enqueues or retries it as `deliver`; the in-process runner
    awaits it. The one place this hand-off is decided.
    """

    outbound_id: int
    sent_as: str

    @classmethod
    def after(cls, exc: SentNotRecorded) -> RecordReceipt:
        return cls(exc.outbound_id, exc.platform_message_id)

    def deliver_args(self) -> tuple[tuple[int], dict[str, Any]]:
        """(args, kwargs) of the `deliver` task that records the receipt."""
        return (self.outbound_id,), {"sent_as": self.sent_as}

    async def __call__(self, services: Services) -> int:
        return await deliver(services, self.outbound_id, self.sent_as)


async def desk_sync(services: Services, handoff_id: int) -> int:
    """Bring the agents' desk up to date for one handoff (card, relayed messages, state)."""
    if services.desk is None:
        return 0
    return await services.desk.sync_or_retry(handoff_id)


async def check_sla(services: Services) -> int:
    """Page the on-call agent for handoffs left waiting past the SLA (each one once)."""
    if services.desk is None or not services.desk.available:
        return 0
    return await services.desk.check_sla()


async def sweep(services: Services) -> int:
    """Put back on the queues what a crash left behind (see `core.recovery`)."""
    if services.recovery is None:
        return 0
    report = await services.recovery.sweep()
    return report.requeued_messages + report.requeued_deliveries + report.dead_lettered


async def admin_command(services: Services, audit_id: int) -> int:
    """Run a slow `/csbot` command and answer through its response_url."""
    if services.admin is None:
        return 0
    await services.admin.run_deferred(audit_id)
    return 1


async def retention(services: Services) -> int:
    """Delete what is older than the bot's retention period; returns the messages deleted."""
    if services.retention is None:
        return 0
    return (await services.retention.expire()).messages


async def retrain(services: Services) -> int:
    """Retrain the intent model when this interval's turn is ours; 1 when a model was installed."""
    if services.retrain is None:
        return 0
    outcome = await services.retrain.run_if_due()
    return int(outcome is not None and outcome.installed)
