"""Redis clients whose connection pool waits for a free connection instead of failing.

redis-py's asyncio pool holds at most 100 connections and raises `MaxConnectionsError` past
them. A worker with `LLM_MAX_CONCURRENCY` turns in flight (128 by default) can need more at
once: every turn holds its conversation's lock and renews it, and sends reserve rate-limit
budget. Past the pool's size a lock release fails, and with it the whole turn, whose message then
waits for the recovery sweep. A blocking pool sized to the worker makes a busy moment wait a few
milliseconds instead.
"""

from __future__ import annotations

from typing import Final

from redis.asyncio import BlockingConnectionPool, Redis

POOL_WAIT: Final = 30.0  # seconds a command waits for a free connection before it fails


def connections_for(turns_in_flight: int) -> int:
    """Connections one process may use: two per turn in flight (its lock's renewal can overlap
    a command of the turn's own), and a few for the sweep, probes and metrics."""
    return 2 * turns_in_flight + 16


def redis_client(url: str, *, connections: int) -> Redis:
    return Redis(connection_pool=BlockingConnectionPool.from_url(url, max_connections=connections, timeout=POOL_WAIT))
