"""`StreamPresenter` against a recording view and in-memory marks: what it shows, when it holds
back, and that a partial in flight is never abandoned half-recorded."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.errors import PermanentDeliveryError, RateLimited
from core.streaming import RESERVED, StreamPresenter, StreamTarget

TARGET = StreamTarget(7, "chat-1", {"chat_type": "group"})


class Marks:
    def __init__(self, taken: bool = False) -> None:
        self.refs: dict[int, str] = {7: RESERVED} if taken else {}

    async def reserve_stream(self, message_id: int) -> bool:
        if message_id in self.refs:
            return False
        self.refs[message_id] = RESERVED
        return True

    async def record_stream(self, message_id: int, ref: str) -> None:
        self.refs[message_id] = ref


class View:
    """A message per stream, one push per `interval` seconds (else `RateLimited`), as a channel's
    limiter would allow; `delay` makes every push slow."""

    def __init__(self, *, lasting: bool = True, interval: float = 0.0, delay: float = 0.0, fail: bool = False) -> None:
        self._lasting, self._interval, self._delay, self._fail = lasting, interval, delay, fail
        self.shown: list[tuple[str, str | None]] = []
        self.withdrawn: list[str] = []
        self._last = -1e9

    def lasting(self, target: StreamTarget) -> bool:
        return self._lasting

    async def show(self, target: StreamTarget, text: str, ref: str | None) -> str | None:
        if self._fail:
            raise PermanentDeliveryError("fake", "chat gone")
        wait = self._last + self._interval - time.monotonic()
        if wait > 0:
            raise RateLimited("fake", wait, "partials")
        self._last = time.monotonic()
        await asyncio.sleep(self._delay)
        self.shown.append((text, ref))
        return (ref or "m1") if self._lasting else None

    async def withdraw(self, target: StreamTarget, ref: str) -> None:
        self.withdrawn.append(ref)


async def grow(presenter: StreamPresenter, words: int, pace: float) -> None:
    text = ""
    for i in range(words):
        text += f"w{i} "
        presenter.offer(lambda shown=text: shown)
        await asyncio.sleep(pace)


async def test_partials_follow_the_limit_and_the_last_one_shows_the_newest_text() -> None:
    view, marks = View(interval=0.2), Marks()
    presenter = StreamPresenter(view, marks, TARGET, known=None)
    presenter.start()
    await grow(presenter, 30, 0.03)  # ~0.9 s of generation
    await asyncio.sleep(0.25)
    assert await presenter.settle() == "m1"
    assert 4 <= len(view.shown) <= 7, view.shown  # ~one per 0.2 s, not one per delta
    assert view.shown[0][1] is None and all(ref == "m1" for _, ref in view.shown[1:])
    assert view.shown[-1][0].strip().endswith("w29"), "nothing generated is lost by skipping pushes"
    assert marks.refs == {7: "m1"}


async def test_a_run_finding_its_stream_goes_on_in_the_same_message() -> None:
    view, marks = View(), Marks()
    presenter = StreamPresenter(view, marks, TARGET, known="m9")
    presenter.offer(lambda: "again")
    await asyncio.sleep(0.05)
    assert await presenter.settle() == "m9"
    assert view.shown == [("again", "m9")] and marks.refs == {}, "no new reservation, no new message"


@pytest.mark.parametrize("taken_by", ["known", "marks"])
async def test_a_slot_taken_by_an_earlier_run_never_starts_a_second_stream(taken_by: str) -> None:
    view = View()
    presenter = StreamPresenter(view, Marks(taken=True), TARGET, known=RESERVED if taken_by == "known" else None)
    presenter.start()
    presenter.offer(lambda: "hello")
    await asyncio.sleep(0.05)
    presenter.offer(lambda: "hello there")
    assert await presenter.settle() is None
    assert view.shown == []


async def test_settle_lets_a_push_in_flight_finish_and_records_it() -> None:
    view, marks = View(delay=0.3), Marks()
    presenter = StreamPresenter(view, marks, TARGET, known=None)
    presenter.offer(lambda: "first words")
    await asyncio.sleep(0.05)  # the first post is on its way
    assert await presenter.settle() == "m1"
    assert marks.refs == {7: "m1"}, "a posted partial is never left without its reference"


async def test_a_channel_refusing_partials_stops_streaming_without_failing_the_turn() -> None:
    view = View(fail=True)
    presenter = StreamPresenter(view, Marks(), TARGET, known=None)
    presenter.offer(lambda: "words")
    await asyncio.sleep(0.05)
    presenter.offer(lambda: "more words")
    assert await presenter.settle() is None


async def test_drafts_need_no_reservation_and_withdraw_removes_a_shown_message() -> None:
    drafts, marks = View(lasting=False), Marks()
    presenter = StreamPresenter(drafts, marks, TARGET, known=None)
    presenter.start()
    presenter.offer(lambda: "draft")
    await asyncio.sleep(0.05)
    assert await presenter.settle() is None and marks.refs == {} and drafts.shown == [("draft", None)]
    shown = View()
    presenter = StreamPresenter(shown, Marks(), TARGET, known=None)
    presenter.offer(lambda: "partial")
    await asyncio.sleep(0.05)
    await presenter.withdraw()
    assert shown.withdrawn == ["m1"]
