"""Calling the LLM server within a deadline: retry what can pass, give up in time to fall back."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing

from core.errors import LLMError, LLMTimeout
from core.ports import GenerationRequest, Generator

Sleep = Callable[[float], Awaitable[None]]


async def generate_within(
    generator: Generator,
    request: GenerationRequest,
    *,
    retries: int,
    deadline: float,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Generate, retrying retryable `LLMError`s with jittered exponential backoff.

    Honours a server's `retry_after`; re-raises the last error once retries or the deadline
    run out, so the caller can answer from the knowledge base instead of leaving silence.
    """
    return await _within(lambda: generator.generate(request), retries=retries, deadline=deadline, sleep=sleep, clock=clock)


async def stream_within(
    generator: Generator,
    request: GenerationRequest,
    on_text: Callable[[str], None],
    *,
    retries: int,
    deadline: float,
    timeout: float,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """`generate_within`, reading the generator's stream and handing `on_text` the whole text
    so far after every delta, so a channel can show the answer as it grows. A retried attempt
    starts from nothing: what it shows replaces what the failed one showed. Each attempt has
    `timeout` seconds to finish, as a whole generation has (`LLMTimeout` otherwise)."""

    async def attempt() -> str:
        text = ""
        try:
            async with asyncio.timeout(timeout), aclosing(generator.stream(request)) as deltas:  # type: ignore[type-var]
                async for delta in deltas:
                    text += delta
                    on_text(text)
        except TimeoutError as exc:
            raise LLMTimeout(f"no complete answer within {timeout:g}s") from exc
        return text

    return await _within(attempt, retries=retries, deadline=deadline, sleep=sleep, clock=clock)


async def _within(
    attempt: Callable[[], Awaitable[str]], *, retries: int, deadline: float, sleep: Sleep, clock: Callable[[], float]
) -> str:
    end = clock() + deadline
    tries = 0
    while True:
        try:
            return await attempt()
        except LLMError as exc:
            tries += 1
            if not exc.retryable or tries > retries:
                raise
            delay = exc.retry_after if exc.retry_after is not None else random.uniform(0, 0.5 * 2**tries)
            if clock() + delay >= end:
                raise
            await sleep(delay)
