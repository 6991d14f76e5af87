"""The conversation lock's lease: renewed while held, and always let go when the holder is done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.lock import Lock

from infra.locks import RedisLocks

LEASE = 0.3


@pytest.fixture
async def redis(clean_redis: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(clean_redis)
    yield client
    await client.aclose()


def prefix() -> str:
    import os

    return f"{os.environ['CSBOT_NAMESPACE']}:lock:"


async def test_a_lock_held_longer_than_its_lease_is_renewed_then_released(redis: Redis) -> None:
    locks = RedisLocks(redis, lease=LEASE, prefix=prefix())
    async with locks.hold("conversation:1", timeout=1):
        await asyncio.sleep(LEASE * 3)
        assert await redis.exists(prefix() + "conversation:1") == 1
    assert await redis.exists(prefix() + "conversation:1") == 0


async def test_a_renewer_that_swallows_its_cancellation_does_not_keep_the_holder_waiting(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancellation landing inside a Redis command can be lost in the client; the holder must
    still get out, and the lock must not be extended for ever after."""
    extending = asyncio.Event()
    real_extend = Lock.extend

    async def extend_swallowing_cancel(self: Lock, *args: object, **kwargs: object) -> bool:
        if not extending.is_set():
            extending.set()
            try:
                await asyncio.sleep(LEASE / 2)  # a slow round trip, during which the holder finishes
            except asyncio.CancelledError:
                pass  # what a client that loses the cancellation does, once
        return await real_extend(self, *args, **kwargs)

    monkeypatch.setattr(Lock, "extend", extend_swallowing_cancel)
    locks = RedisLocks(redis, lease=LEASE, prefix=prefix())

    async def hold_until_extending() -> None:
        async with locks.hold("conversation:2", timeout=1):
            await extending.wait()

    holder = asyncio.create_task(hold_until_extending())
    finished, _ = await asyncio.wait({holder}, timeout=LEASE * 4)  # waiting, never cancelling it
    assert finished, "the holder is still waiting on its renewer"
    await asyncio.sleep(LEASE * 2)  # a renewer still running would have extended it by now
    assert await redis.exists(prefix() + "conversation:2") == 0
