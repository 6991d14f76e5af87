"""Showing an answer while it is generated, without ever showing it twice.

Without it, a long generation shows nothing but "typing…" until the whole text is there. Channels
that can display a growing text (Telegram drafts and edits, Slack's streaming API and
`chat.update`) implement `StreamView`; the turn builds a `StreamPresenter` for the message and
hands the engine its `offer` as the sink for the text so far. The presenter pushes the
latest text at the pace the channel's rate limiter allows (each push shows everything
generated up to then, so a skipped push loses nothing). Partials are not flushed at the end:
the final answer replaces whatever was last shown.

The final answer still goes out exactly once, through the outbox: the presenter only ever
shows partials. Where a partial lives in a real message (a Telegram group, Slack), that
message's id is the *stream reference*: it is kept durably on the inbound message
(`StreamMarks`) and carried in the reply's outbox metadata under `STREAM_KEY`, so the
channel edits that message into the final text instead of posting a second one. A slot is
reserved before the first message is posted, so a re-run after a crash finds either the
message (and goes on editing it) or the reservation (and shows nothing more rather than start
a second visible stream). Drafts (Telegram private chats) vanish by themselves: they need no
reference and the final answer is an ordinary message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from core.errors import DeliveryError, RateLimited

log = logging.getLogger(__name__)

STREAM_KEY: Final = "stream_ref"
RESERVED: Final = "reserved"  # a slot taken, no message posted yet (or its id was lost in a crash)
MAX_WAIT: Final = 5.0  # never sit out a partial's rate limit longer: the final answer is coming


@dataclass(frozen=True, slots=True)
class StreamTarget:
    """Where a partial answer is shown: the inbound message it answers and where it came from."""

    message_id: int
    conversation_key: str
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)


class StreamView(Protocol):
    """A channel's way of showing a growing answer. Raises `RateLimited` when the channel's
    budget for partials is spent (the presenter waits and shows the newer text then), and any
    `DeliveryError` when showing failed (the presenter stops; the final answer is unaffected)."""

    def lasting(self, target: StreamTarget) -> bool:
        """True when partials live in a real message (it must be replaced by the final one and
        needs a durable reference); False for ephemeral drafts."""

    async def show(self, target: StreamTarget, text: str, ref: str | None) -> str | None:
        """Show `text`: a new draft or message when `ref` is None, else replace `ref`'s text.
        Returns the reference of the message now showing it (None for a draft)."""

    async def withdraw(self, target: StreamTarget, ref: str) -> None:
        """Remove a shown partial that no final answer will replace (the turn was handed to a
        person, whose acknowledgement is posted on its own)."""


class StreamMarks(Protocol):
    """The durable stream reference of an inbound message (see the module docstring)."""

    async def reserve_stream(self, message_id: int) -> bool:
        """Take the message's stream slot; False when it was taken before (by an earlier run),
        or while an earlier reply of the conversation is still unsent (partials would overtake it)."""

    async def record_stream(self, message_id: int, ref: str) -> None:
        """Remember the message showing the message's partials."""


class StreamPresenter:
    """One turn's partials on one channel: `offer` never blocks the generation; `settle` stops
    pushing and returns the reference the final answer must replace (None when nothing lasting
    is shown)."""

    def __init__(self, view: StreamView, marks: StreamMarks, target: StreamTarget, *, known: str | None) -> None:
        """`known` is the stream reference an earlier run of this turn left (`RESERVED` or a
        message's id) as read from the inbound message."""
        self._view = view
        self._marks = marks
        self._target = target
        self._ref = None if known == RESERVED else known
        self._blocked = known == RESERVED  # an earlier run may have posted a message we cannot find
        self._lasting = view.lasting(target)
        self._latest: Callable[[], str] = str
        self._shown = ""
        self._closing = False
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._slot: asyncio.Task[bool] | None = None

    def start(self) -> None:
        """Reserve the stream slot now (the first partial does, when nothing did before). Only
        a real message needs one."""
        if self._lasting and self._ref is None and not self._blocked and self._slot is None:
            self._slot = asyncio.get_running_loop().create_task(self._marks.reserve_stream(self._target.message_id))

    def offer(self, text: Callable[[], str]) -> None:
        """The answer so far, called on every delta. `text` renders it (clean-up and masking
        over the whole text): it runs only when a push goes out, about once a second, since
        rendering on every delta would cost the worker's loop a second per long answer."""
        if self._blocked:
            return
        self._latest = text
        self._changed.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def settle(self) -> str | None:
        """Stop showing partials (the final answer follows through the outbox). A push in flight
        is let finish, never cancelled: a message posted but not recorded would be left standing."""
        self._closing = True
        self._changed.set()
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._slot is not None:
            await asyncio.wait([self._slot])  # a reservation must not outlive its turn half-written
            if not self._slot.cancelled() and (error := self._slot.exception()) is not None:
                log.info("stream slot not reserved: %s", error)
        return self._ref

    async def withdraw(self) -> None:
        """Remove the shown partial: no final answer will replace it."""
        ref = await self.settle()
        if ref is None:
            return
        try:
            await self._view.withdraw(self._target, ref)
        except DeliveryError as exc:
            log.info("could not withdraw a partial answer: %s", exc)

    async def _run(self) -> None:
        """Best effort, like "typing…": a partial that cannot be shown must never cost the
        customer the answer, so nothing raised here reaches the turn."""
        try:
            await self._show_partials()
        except Exception:
            log.exception("showing partial answers failed; the final answer still goes out")

    async def _show_partials(self) -> None:
        if self._lasting and self._ref is None and not await self._reserved():
            self._blocked = True  # an earlier run took the slot: never start a second stream
            return
        while not self._closing:
            await self._changed.wait()
            self._changed.clear()
            if self._closing:
                return
            text = self._latest()
            if not text.strip() or text == self._shown:
                continue
            try:
                await self._push(text)
            except RateLimited as exc:
                await self._pause(min(exc.retry_after, MAX_WAIT))
                self._changed.set()
            except DeliveryError as exc:
                log.info("partial answer not shown, streaming stops: %s", exc)
                return

    async def _reserved(self) -> bool:
        self.start()
        assert self._slot is not None
        return await self._slot

    async def _push(self, text: str) -> None:
        ref = await self._view.show(self._target, text, self._ref)
        self._shown = text
        if ref is not None and ref != self._ref:
            self._ref = ref
            await self._marks.record_stream(self._target.message_id, ref)

    async def _pause(self, seconds: float) -> None:
        """Sit out a rate limit, but not past `settle`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
