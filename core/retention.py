"""How long customers' words are kept: expiry after the bot's retention period, and forgetting
one customer on request.

Both delete the same things (messages and their analyses, the outbox, feedback, handoffs with
their events and desk posts, knowledge suggestions not yet approved) and keep only anonymous
counts per day, so `/csbot stats` still covers the period. Forgetting a customer whose
conversation was handed to people leaves a note in each desk thread, so agents know why the
conversation is gone and do not ask the customer again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from core.desk import utc_now
from core.errors import BadInput, DeliveryError
from core.feedback import RATING, THUMBS
from core.ports import AgentDesk
from core.stats import Stats

log = logging.getLogger(__name__)

FORGOTTEN_NOTE = "This customer asked to be forgotten: csbot has erased their conversation and messages."


@dataclass(frozen=True, slots=True)
class DayCounts:
    """Anonymous counts of one day's deleted records: what `Stats` needs, and nothing that says who."""

    day: date
    messages: int = 0
    conversations: int = 0
    handed_over: int = 0
    ratings: int = 0
    rating_sum: int = 0
    satisfied: int = 0
    votes: int = 0
    thumbs_up: int = 0

    def __add__(self, other: DayCounts) -> DayCounts:
        counts = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self) if f.name != "day"}
        return DayCounts(self.day, **counts)


@dataclass(frozen=True, slots=True)
class Erased:
    """What one expiry or erasure removed. `desk_threads` are the handoffs' desk threads."""

    conversations: int = 0
    messages: int = 0
    desk_threads: tuple[str, ...] = ()


class PersonalData(Protocol):
    """The stored conversations, as far as deleting them goes (`infra.db.erasure`)."""

    async def erase_customer(self, channel: str, customer_id: str) -> Erased:
        """Everything stored of one customer on one channel, as one transaction."""

    async def expire(self, before: datetime) -> Erased:
        """Every message, reply, vote and resolved handoff older than `before`; conversations
        left empty go too."""


class Retention:
    def __init__(
        self,
        data: PersonalData,
        *,
        days: int | None,
        desk: AgentDesk | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._data = data
        self._days = days
        self._desk = desk
        self._clock = clock

    async def expire(self) -> Erased:
        """Delete what is older than the retention period; nothing when the bot sets none."""
        if self._days is None:
            return Erased()
        erased = await self._data.expire(self._clock() - timedelta(days=self._days))
        if erased.messages or erased.conversations:
            log.info("retention: %d messages and %d conversations older than %d days deleted",
                     erased.messages, erased.conversations, self._days)
        return erased

    async def forget(self, channel: str, customer_id: str) -> Erased:
        """Erase one customer (by their id or conversation key on `channel`) and tell the desk."""
        channel, customer_id = channel.strip(), customer_id.strip()
        if not channel or not customer_id:
            raise BadInput("forgetting a customer needs a channel and the customer's id")
        erased = await self._data.erase_customer(channel, customer_id)
        await self._tell_desk(erased.desk_threads)
        return erased

    async def _tell_desk(self, threads: Iterable[str]) -> None:
        """Best effort: the erasure stands even when Slack is away; agents miss only the note."""
        if self._desk is None:
            return
        for thread in threads:
            try:
                await self._desk.post_in_thread(thread, FORGOTTEN_NOTE)
            except DeliveryError as exc:
                log.warning("could not note the erasure in desk thread %s: %s", thread, exc)


def describe_forgotten(erased: Erased, channel: str, customer: str) -> str:
    """The answer to a forget request, for the admin command and the CLI alike."""
    if not erased.conversations and not erased.messages:
        return f"Nothing is stored for {channel} customer {customer!r}; nothing was erased."
    note = f"; noted in {len(erased.desk_threads)} desk thread(s)" if erased.desk_threads else ""
    return (f"Forgot {channel} customer {customer!r}: {erased.conversations} conversation(s) and "
            f"{erased.messages} message(s) erased{note}.")


def with_retained(stats: Stats, retained: Iterable[DayCounts]) -> Stats:
    """`stats` plus the anonymous counts of deleted records in its window. Medians, intents and
    grounding outcomes are not kept, so those figures cover only what is still stored."""
    total = sum(retained, DayCounts(date.min))
    ratings = stats.ratings + total.ratings
    rating_sum = (stats.rating_average or 0.0) * stats.ratings + total.rating_sum
    return replace(
        stats,
        messages=stats.messages + total.messages,
        conversations=stats.conversations + total.conversations,
        handed_over=stats.handed_over + total.handed_over,
        ratings=ratings,
        rating_average=rating_sum / ratings if ratings else None,
        satisfied=stats.satisfied + total.satisfied,
        votes=stats.votes + total.votes,
        thumbs_up=stats.thumbs_up + total.thumbs_up,
    )


def count_days(
    messages: Iterable[tuple[int, datetime]],
    handoffs: Iterable[tuple[int, datetime]],
    feedback: Iterable[tuple[str, int, datetime]],
) -> list[DayCounts]:
    """Anonymous per-day counts of deleted records: messages and handoffs as (conversation id,
    when), feedback as (kind, score, when). A conversation counts on the day of its first deleted
    message, a handover on the day of its conversation's first deleted handoff, as the stats do."""
    days: dict[date, DayCounts] = {}

    def add(day: date, **counts: int) -> None:
        days[day] = days.get(day, DayCounts(day)) + DayCounts(day, **counts)

    first_message: dict[int, date] = {}
    for conversation, at in messages:
        add(at.date(), messages=1)
        first_message[conversation] = min(first_message.get(conversation, at.date()), at.date())
    for day in first_message.values():
        add(day, conversations=1)
    first_handoff: dict[int, date] = {}
    for conversation, at in handoffs:
        first_handoff[conversation] = min(first_handoff.get(conversation, at.date()), at.date())
    for day in first_handoff.values():
        add(day, handed_over=1)
    for kind, score, at in feedback:
        if kind == RATING:
            add(at.date(), ratings=1, rating_sum=score, satisfied=int(score >= 4))
        elif kind == THUMBS:
            add(at.date(), votes=1, thumbs_up=int(score > 0))
    return [days[day] for day in sorted(days)]
