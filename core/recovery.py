"""Recovery: find work a crash left behind and put it back on the queues.

Jobs are enqueued right after the row they name is committed; a process that dies between the
two (or a broker outage at that moment) leaves a stored message nobody processes. A periodic
sweep re-enqueues such messages and due outbox rows; jobs are idempotent, so enqueuing one
twice costs a little work, never a second reply. A row stuck in `sending` means a worker died
during the platform call itself: whether the platform took it cannot be known, so it is
dead-lettered with that reason (visible to operators) rather than risk a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.ports import JobQueue


class RecoveryQueries(Protocol):
    async def stale_unanswered(self, older_than: float) -> list[int]:
        """Ids of inbound messages still unanswered `older_than` seconds after arrival."""

    async def stale_pending(self, older_than: float) -> list[int]:
        """Ids of outbox rows pending and due, written more than `older_than` seconds ago."""

    async def stale_sending(self, older_than: float) -> list[int]:
        """Ids of outbox rows in `sending` for more than `older_than` seconds."""

    async def fail_unknown(self, outbound_ids: list[int], reason: str) -> int:
        """Dead-letter rows still in `sending`; returns how many moved."""


@dataclass(frozen=True, slots=True)
class SweepReport:
    requeued_messages: int
    requeued_deliveries: int
    dead_lettered: int


UNKNOWN_OUTCOME = "delivery outcome unknown: the worker stopped during the send; not resent to avoid a duplicate"


class Recovery:
    def __init__(self, queries: RecoveryQueries, jobs: JobQueue, *, stale_after: float = 120.0, sending_timeout: float = 600.0) -> None:
        self._queries = queries
        self._jobs = jobs
        self._stale_after = stale_after
        self._sending_timeout = sending_timeout

    async def sweep(self) -> SweepReport:
        messages = await self._queries.stale_unanswered(self._stale_after)
        for message_id in messages:
            self._jobs.enqueue_inbound(message_id)
        deliveries = await self._queries.stale_pending(self._stale_after)
        for outbound_id in deliveries:
            self._jobs.enqueue_delivery(outbound_id)
        stuck = await self._queries.stale_sending(self._sending_timeout)
        dead = await self._queries.fail_unknown(stuck, UNKNOWN_OUTCOME) if stuck else 0
        return SweepReport(len(messages), len(deliveries), dead)
