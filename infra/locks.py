"""Per-key mutual exclusion: a Redis lock across workers, or an asyncio lock in one process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import LockError

from core.errors import LockTimeout


class RedisLocks:
    """Redis locks with a time-to-live, so a worker that dies cannot hold a conversation forever.

    `timeout` is both how long we wait for the lock and how long it lives once taken: it must
    exceed the slowest turn (the generation deadline), which the composition root ensures.
    """

    def __init__(self, redis: Redis, *, prefix: str = "csbot:lock:") -> None:
        self._redis = redis
        self._prefix = prefix

    @asynccontextmanager
    async def hold(self, key: str, *, timeout: float) -> AsyncIterator[None]:
        lock = self._redis.lock(self._prefix + key, timeout=timeout, blocking_timeout=timeout)
        if not await lock.acquire():
            raise LockTimeout(key, timeout)
        try:
            yield
        finally:
            try:
                await lock.release()
            except LockError:
                pass  # expired while we worked; another holder may already have it


class MemoryLocks:
    """asyncio locks for the single-process (no Redis) mode."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, key: str, *, timeout: float) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), timeout)
        except TimeoutError as exc:
            raise LockTimeout(key, timeout) from exc
        try:
            yield
        finally:
            lock.release()
