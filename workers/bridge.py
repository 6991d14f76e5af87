"""The one sync→async bridge: every Celery task body runs its coroutine on one shared event loop.

A worker process holds one event loop, in a thread of its own, and one set of services built on
it (database pool, indexes, models, LLM client). Celery's thread pool feeds it: a task body only
submits its coroutine to the loop and waits, so the loop holds as many turns at once as the pool
has threads, while Celery keeps doing what it is trusted for (late acks, redelivery, retries).
A generation waiting on the LLM server costs the loop a suspended coroutine, not a thread's
runtime, and everything loop-bound (pools, clients) is made once.

CPU-bound steps of a turn (understanding, retrieval) leave the loop through `asyncio.to_thread`,
onto the loop's default executor, sized here so that many turns can wait on the process's one
batching encoder thread at once (a batch is only as large as the callers waiting for it).

The services live as long as the loop; `shutdown` closes them once the pool has drained.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from core.services import Services
from workers import publisher

T = TypeVar("T")
# Threads of the loop's default executor: turns whose CPU-bound steps run at once. They mostly
# wait on the one encoder thread, so this bounds the encoder's batch, not the CPU used.
OFFLOAD_THREADS = 32
log = logging.getLogger(__name__)


class ProcessServices(Protocol):
    """What the composition root builds for a process: the services and how to close them."""

    services: Services

    async def close(self) -> None: ...


ServicesFactory = Callable[[], Awaitable[ProcessServices]]


class SharedLoop:
    """An event loop in a daemon thread, and the services built on it on first use."""

    def __init__(self, factory: ServicesFactory) -> None:
        self._factory = factory
        self._built: asyncio.Task[ProcessServices] | None = None
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(ThreadPoolExecutor(OFFLOAD_THREADS, thread_name_prefix="csbot-offload"))
        self._thread = threading.Thread(target=self.loop.run_forever, name="csbot-loop", daemon=True)
        self._thread.start()

    def run(self, job: Callable[[Services], Awaitable[T]]) -> T:
        future = asyncio.run_coroutine_threadsafe(self._call(job), self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # the waiting thread is gone: do not leave the turn running unowned
            raise

    async def _call(self, job: Callable[[Services], Awaitable[T]]) -> T:
        built = await self._services()
        return await job(built.services)

    async def _services(self) -> ProcessServices:
        """Built once; concurrent first jobs wait on the same build. A failed build is retried
        by the next job (the database may simply not be up yet)."""
        if self._built is None or _failed(self._built):
            self._built = asyncio.ensure_future(self._factory())
        return await asyncio.shield(self._built)

    def close(self, timeout: float = 30.0) -> None:
        """Close the services on the loop, then stop the loop and its thread."""
        if self.loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close_services(), self.loop).result(timeout)
        except Exception as exc:  # closing is best effort: the process is going away
            log.warning("closing the worker's services failed: %s", exc)
        try:
            asyncio.run_coroutine_threadsafe(self.loop.shutdown_default_executor(), self.loop).result(timeout)
        except Exception as exc:
            log.warning("stopping the worker's offload threads failed: %s", exc)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()

    async def _close_services(self) -> None:
        if self._built is not None and self._built.done() and not _failed(self._built):
            await self._built.result().close()


def _failed(task: asyncio.Task[ProcessServices]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


_factory: ServicesFactory | None = None
_shared: SharedLoop | None = None
_lock = threading.Lock()


def install(factory: ServicesFactory) -> None:
    """Called by the worker's composition root before the first task runs; a loop left from
    an earlier install (another app in the same process) is closed first."""
    global _factory
    shutdown()
    _factory = factory


def run(job: Callable[[Services], Awaitable[T]]) -> T:
    """Run `job` on the process's shared loop and wait for its result (from any thread), then
    until the jobs it enqueued are with the broker: the calling task is acked late, after this
    returns, and must not be acked while its follow-up jobs exist only in this process."""
    try:
        return _current().run(job)
    finally:
        publisher.flush_all()


def shutdown() -> None:
    """Close the services and stop the loop; the next `run` starts afresh."""
    global _shared
    with _lock:
        shared, _shared = _shared, None
    if shared is not None and shared.pid == os.getpid():
        shared.close()


def _current() -> SharedLoop:
    """This process's loop. Made lazily, and again after a fork: a forked child (Celery's
    prefork pool) inherits the parent's objects but not its loop thread."""
    global _shared
    with _lock:
        if _shared is None or _shared.pid != os.getpid():
            if _factory is None:
                raise RuntimeError("no services factory installed: start workers with `csbot worker`")
            _shared = SharedLoop(_factory)
        return _shared
