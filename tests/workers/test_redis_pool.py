"""More Redis commands at once than the pool has connections wait for one instead of failing.

redis-py's asyncio pool raises `MaxConnectionsError` past its size (100 by default): under a
worker's 128 turns in flight, that failed lock releases and with them whole turns. The
runtime's pool blocks instead, and a Redis error that still reaches a task is retried."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError

from infra.redis_pool import connections_for, redis_client
from workers import tasks

pytestmark = pytest.mark.services
BUSY = 12  # commands in flight, three times the pool's 4 connections


async def busy(client: Redis, key: str) -> None:
    """A command holding its connection for 0.2 s (BLPOP on an empty list)."""
    await asyncio.gather(*(client.blpop([f"{key}:{i}"], timeout=0.2) for i in range(BUSY)))


async def test_a_blocking_pool_serves_more_commands_than_connections(clean_redis: str) -> None:
    client = redis_client(clean_redis, connections=4)
    try:
        await busy(client, "pool-wait")  # all of them complete, four at a time
        assert client.connection_pool.max_connections == 4
    finally:
        await client.aclose()


async def test_the_default_pool_fails_where_the_blocking_one_waits(clean_redis: str) -> None:
    client = Redis.from_url(clean_redis, max_connections=4)
    try:
        with pytest.raises(MaxConnectionsError):
            await busy(client, "pool-fail")
    finally:
        await client.aclose()


def test_pools_are_sized_past_the_turns_in_flight_and_redis_errors_are_retried() -> None:
    assert connections_for(128) > 2 * 128
    for task in (tasks.process_inbound, tasks.deliver):
        assert issubclass(MaxConnectionsError, RedisConnectionError)
        assert RedisConnectionError in task.autoretry_for, task.name
