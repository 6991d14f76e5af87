"""`stream_within` keeps `generate_within`'s promises while it hands on the growing text."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.errors import LLMOverloaded, LLMTimeout, LLMValidationError
from core.ports import ChatMessage, GenerationRequest
from core.resilience import stream_within

REQUEST = GenerationRequest((ChatMessage("user", "hours?"),))


class Streams:
    """Each call of `stream` plays the next script: words, then perhaps an error or a stall."""

    def __init__(self, *scripts: tuple[list[str], Exception | None]) -> None:
        self._scripts = list(scripts)
        self.calls = 0

    async def generate(self, request: GenerationRequest) -> str:
        raise AssertionError("a streaming turn never calls generate")

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        words, error = self._scripts[self.calls]
        self.calls += 1
        for word in words:
            yield word
        if isinstance(error, TimeoutError):
            await asyncio.sleep(10)
        elif error is not None:
            raise error


async def no_sleep(_: float) -> None:
    return None


async def test_a_stream_failing_mid_way_is_retried_and_the_retry_replaces_what_was_shown() -> None:
    streams = Streams((["Our ", "bran"], LLMOverloaded("busy")), (["Open ", "weekdays."], None))
    seen: list[str] = []
    text = await stream_within(streams, REQUEST, seen.append, retries=2, deadline=10, timeout=5, sleep=no_sleep)
    assert text == "Open weekdays." and streams.calls == 2
    assert seen == ["Our ", "Our bran", "Open ", "Open weekdays."]


async def test_an_error_that_cannot_pass_is_raised_at_once() -> None:
    streams = Streams((["x"], LLMValidationError("bad request")), (["never"], None))
    with pytest.raises(LLMValidationError):
        await stream_within(streams, REQUEST, lambda _: None, retries=2, deadline=10, timeout=5, sleep=no_sleep)
    assert streams.calls == 1


async def test_a_stalled_stream_times_out_like_a_whole_generation() -> None:
    streams = Streams((["Our "], TimeoutError()))
    with pytest.raises(LLMTimeout):
        await stream_within(streams, REQUEST, lambda _: None, retries=0, deadline=10, timeout=0.2, sleep=no_sleep)
