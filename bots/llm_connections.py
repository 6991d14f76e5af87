"""The LLM client's connection pool, sized to the generations a process keeps in flight.

huggingface_hub's async client comes with httpx's default pool: 100 connections, 20 of them
kept alive. A worker keeps up to `LLM_MAX_CONCURRENCY` generations (128 by default) in flight
over one client per event loop, so past 100 a generation waits for a connection, and past 20
each answer closes its connection and the next opens a new one. huggingface_hub's documented
hook for this (`set_async_client_factory`) makes the same client with a pool that size; the
request and response hooks the library puts on its clients are kept.
"""

from __future__ import annotations

from huggingface_hub import get_async_session, set_async_client_factory
from huggingface_hub.utils import httpx


def size_llm_pool(connections: int) -> None:
    """Every async client huggingface_hub makes from now on pools `connections` connections,
    all kept alive between generations."""
    template = get_async_session()  # never opened: only its hooks are read
    hooks = template.event_hooks
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    def pooled() -> httpx.AsyncClient:
        return httpx.AsyncClient(event_hooks=hooks, follow_redirects=True, timeout=None, limits=limits)

    set_async_client_factory(pooled)
