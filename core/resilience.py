"""Calling the LLM server within a deadline: retry what can pass, give up in time to fall back."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from core.errors import LLMError
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
    end = clock() + deadline
    attempt = 0
    while True:
        try:
            return await generator.generate(request)
        except LLMError as exc:
            attempt += 1
            if not exc.retryable or attempt > retries:
                raise
            delay = exc.retry_after if exc.retry_after is not None else random.uniform(0, 0.5 * 2**attempt)
            if clock() + delay >= end:
                raise
            await sleep(delay)
