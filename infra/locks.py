"""Per-key mutual exclusion: a Redis lease lock across workers, or an asyncio lock in one process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from core.errors import LockTimeout


class RedisLocks:
    """Redis locks held as a short lease that the holder keeps renewing.

    A turn may take as long as the LLM deadline, but a worker that dies mid-turn should free
    its conversation within seconds, not after the longest possible turn: so the lock lives
    `lease` seconds and a background task extends it every `lease / 3` while the holder runs.
    `timeout` is how long a caller waits to get the lock before giving up (and retrying later).
    """

    def __init__(self, redis: Redis, *, lease: float = 10.0, prefix: str = "csbot:lock:") -> None:
        self._redis = redis
        self._lease = lease
        self._prefix = prefix

    @asynccontextmanager
    async def hold(self, key: str, *, timeout: float) -> AsyncIterator[None]:
        lock = self._redis.lock(self._prefix + key, timeout=self._lease, blocking_timeout=timeout)
        if not await lock.acquire():
            raise LockTimeout(key, timeout)
        done = asyncio.Event()
        renewer = asyncio.create_task(self._renew(lock, done))
        try:
            yield
        finally:
            await self._stop(renewer, done)
            with contextlib.suppress(LockError):
                await lock.release()  # expired while we worked: another holder may have it now

    async def _renew(self, lock: Lock, done: asyncio.Event) -> None:
        """Extend the lease every `lease / 3` until `done` is set."""
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self._lease / 3)
                return
            try:
                await lock.extend(self._lease, replace_ttl=True)
            except LockError:
                return

    async def _stop(self, renewer: asyncio.Task[None], done: asyncio.Event) -> None:
        """Stop the renewer by telling it, not by cancelling it: a cancellation that lands inside
        a Redis command can be swallowed by the client, and a renewer that missed it would extend
        the lock forever while its holder waited on it, the conversation stuck until the worker
        restarts. A renewer busy with an extend finishes that one command; one that does not
        stop within a lease is cancelled and left behind, and its lock lapses with the lease."""
        done.set()
        finished, _ = await asyncio.wait({renewer}, timeout=self._lease)
        if not finished:
            renewer.cancel()


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
