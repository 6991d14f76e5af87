"""The one sync→async bridge: Celery task bodies run coroutines on a per-thread event loop.

Loop-bound clients (database pools, Redis, HTTP clients) live as long as their loop, so the
services are built once per worker thread by the factory the composition root installs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.services import Services

T = TypeVar("T")
ServicesFactory = Callable[[], Awaitable[Services]]

_factory: ServicesFactory | None = None
_local = threading.local()


def install(factory: ServicesFactory) -> None:
    """Called by the worker's composition root before the first task runs."""
    global _factory
    _factory = factory
    _local.__dict__.clear()


def run(job: Callable[[Services], Awaitable[T]]) -> T:
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
        _local.services = None
    return loop.run_until_complete(_with_services(job))


async def _with_services(job: Callable[[Services], Awaitable[T]]) -> T:
    if getattr(_local, "services", None) is None:
        if _factory is None:
            raise RuntimeError("no services factory installed: start workers with `csbot worker`")
        _local.services = await _factory()
    return await job(_local.services)
