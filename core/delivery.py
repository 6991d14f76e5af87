"""Delivery: send the outbox of one conversation, in order, each row once.

Rows are claimed with a compare-and-set (pending → sending) before the platform is called,
so two workers never send the same row; a rate limit or transient failure stops the drain
(later replies must not overtake) and reschedules it, honouring the platform's retry_after.

A turn's reply is usually first in line: `record_and_send` writes it already claimed and sends
it in the turn's own job, sparing a queue hop and two database round trips. Only a reply behind
others, a retry or a rate-limited send goes through the delivery job.

Once the platform has the message, the outbox write that follows is retried in place: a row
left in `sending` would never be sent again, and sending it again would duplicate it. If the
database stays away, `SentNotRecorded` carries the platform's receipt to the job's retry, which
records it (`deliver(..., receipt=...)`) instead of sending. A claim that fails the same way is
checked against the row (`_claim`), so a committed claim is not left behind in `sending`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from core.errors import (
    PermanentDeliveryError,
    RateLimited,
    SentNotRecorded,
    TransientDeliveryError,
    TransientStoreError,
)
from core.feedback import ASK_KEY, ASKED, PROMPT_KEY
from core.messages import Delivered, OutboundMessage
from core.ports import ChannelSender, JobQueue, Locks, Store
from core.records import Outbound, OutboxStatus

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_ATTEMPTS = 8
LOCK_TIMEOUT = 120.0  # a drain holds the conversation's delivery lock for one send at a time
RECORD_ATTEMPTS = 6  # outbox writes after a send: about 6 s of backoff, enough for a reconnect


def as_message(row: Outbound) -> OutboundMessage:
    return OutboundMessage(
        id=row.id,
        channel=row.channel,
        conversation_key=row.conversation_key,
        text=row.text,
        idempotency_key=row.idempotency_key,
        language=row.language,
        buttons=row.buttons,
        metadata=row.metadata,
        ask_feedback=row.metadata.get(ASK_KEY) == ASKED,
        feedback_prompt=row.metadata.get(PROMPT_KEY, ""),
    )


def backoff(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Full-jitter exponential backoff: spreads retries so a recovering platform is not stampeded."""
    return random.uniform(0, min(cap, base * 2**attempt))


async def pause(attempt: int) -> None:
    """The short wait between in-place outbox writes: a reconnect takes tens of milliseconds."""
    await asyncio.sleep(backoff(attempt, base=0.1, cap=2.0) + 0.05)


class Delivery:
    def __init__(self, store: Store, jobs: JobQueue, locks: Locks, senders: Mapping[str, ChannelSender]) -> None:
        self._store = store
        self._jobs = jobs
        self._locks = locks
        self._senders = senders

    async def deliver(self, outbound_id: int, *, receipt: Delivered | None = None) -> int:
        """Send what is due in this row's conversation; returns the number of rows sent.

        `receipt` is what the platform answered an earlier run that sent this row but could not
        record it: it is recorded, and the row is not sent again.
        """
        if receipt is not None:
            await self._record(lambda: self._store.mark_sent(outbound_id, receipt))
        row = await self._store.get_outbound(outbound_id)
        sent = 0
        async with self._locks.hold(_lock_key(row.conversation_id), timeout=LOCK_TIMEOUT):
            for due in await self._store.due_outbound(row.conversation_id):
                wait = due.not_before - time.time()
                if wait > 0:
                    # An earlier row waits for its retry time and later rows must not overtake
                    # it; the job scheduled with its retry drains them all. That job re-enqueues
                    # itself when it came early (timers and clocks across machines are not that
                    # precise). Another row's drain only stops here: enqueueing the waiting row
                    # too gave it one more job for every reply written behind it.
                    if due.id == outbound_id:
                        self._jobs.enqueue_delivery(due.id, delay=wait)
                    break
                outcome = await self._send_one(due)
                if outcome == "sent":
                    sent += 1
                elif outcome == "later":
                    break
        return sent

    async def record_and_send(
        self, conversation_id: int, record: Callable[[], Awaitable[Outbound | None]]
    ) -> Outbound | None:
        """Run `record` (which writes a reply, claimed when first in line) under the conversation's
        delivery lock and send a claimed row at once: no drain can slip a later row past it. A
        row written `pending` waits behind earlier ones and is handed to the delivery job."""
        async with self._locks.hold(_lock_key(conversation_id), timeout=LOCK_TIMEOUT):
            row = await record()
            if row is not None and row.status is OutboxStatus.SENDING:
                await self._send(row)
                return row
        if row is not None:
            self._jobs.enqueue_delivery(row.id)
        return row

    async def _send_one(self, due: Outbound) -> str:
        row = await self._claim(due.id)
        if row is None:
            return "skipped"
        return await self._send(row)

    async def _send(self, row: Outbound) -> str:
        """Send a row this caller claimed (status `sending`) and record the outcome."""
        sender = self._senders.get(row.channel)
        if sender is None:
            await self._record(lambda: self._store.mark_failed(row.id, f"channel {row.channel!r} is not configured"))
            return "failed"
        try:
            delivered = await sender.send(as_message(row))
        except RateLimited as exc:
            await self._record(lambda: self._store.mark_retry(row.id, str(exc), delay=exc.retry_after))
            self._jobs.enqueue_delivery(row.id, delay=exc.retry_after)
            return "later"
        except TransientDeliveryError as exc:
            return await self._retry_later(row, exc)
        except PermanentDeliveryError as exc:
            await self._record(lambda: self._store.mark_failed(row.id, exc.reason))
            return "failed"
        except Exception as exc:
            # A bug or an unmapped SDK error must not strand the row in `sending`: treat it as
            # transient, so it is retried with backoff and dead-lettered if it keeps failing.
            log.exception("sending outbound %s on %s failed unexpectedly", row.id, row.channel)
            return await self._retry_later(row, TransientDeliveryError(row.channel, f"{type(exc).__name__}: {exc}"))
        try:
            await self._record(lambda: self._store.mark_sent(row.id, delivered))
        except TransientStoreError as exc:
            raise SentNotRecorded(row.id, delivered.platform_message_id, exc) from exc
        return "sent"

    async def _claim(self, outbound_id: int) -> Outbound | None:
        """pending → sending, surviving a commit whose acknowledgement was lost with the connection.

        Under this conversation's delivery lock nobody else claims its rows, so a row found in
        `sending` after a failed claim was claimed by us; one still `pending` is claimed again.
        """
        for attempt in range(RECORD_ATTEMPTS):
            try:
                return await self._store.mark_sending(outbound_id)
            except TransientStoreError:
                if attempt + 1 == RECORD_ATTEMPTS:
                    raise
            await pause(attempt)
            row = await self._record(lambda: self._store.get_outbound(outbound_id))
            if row.status != OutboxStatus.PENDING:
                return row if row.status == OutboxStatus.SENDING else None
        raise AssertionError("unreachable")

    async def _record(self, write: Callable[[], Awaitable[T]]) -> T:
        """Run an outbox write that must not be lost, retrying a passing database failure in place."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                return await write()
            except TransientStoreError as exc:
                if attempt + 1 == RECORD_ATTEMPTS:
                    raise
                log.warning("outbox write failed (%s); retrying", exc.reason)
                await pause(attempt)
        raise AssertionError("unreachable")

    async def _retry_later(self, row: Outbound, exc: TransientDeliveryError) -> str:
        if row.attempts + 1 >= MAX_ATTEMPTS:
            reason = f"gave up after {MAX_ATTEMPTS} attempts: {exc.reason}"
            await self._record(lambda: self._store.mark_failed(row.id, reason))
            return "failed"
        delay = backoff(row.attempts)
        await self._record(lambda: self._store.mark_retry(row.id, str(exc), delay=delay))
        self._jobs.enqueue_delivery(row.id, delay=delay)
        return "later"


def _lock_key(conversation_id: int) -> str:
    return f"delivery:{conversation_id}"
