"""Send budgets (the `RateLimiter` port) with the generic cell rate algorithm (GCRA).

GCRA keeps one number per key, the theoretical arrival time (TAT) of the next send, so a budget
costs one Redis key and one atomic script call per send. A send is allowed when it would not
push the TAT more than `burst` intervals ahead of now.

A refused reservation consumes nothing: the caller is told how long to wait and asks again
then (delivery reschedules the send rather than sleeping), so a refusal never eats budget a
later attempt needs.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from asyncio import AbstractEventLoop, get_running_loop
from collections.abc import Callable

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from infra.redis_pool import redis_client

log = logging.getLogger(__name__)

MICROS = 1_000_000


def _interval_micros(per_second: float) -> int:
    if per_second <= 0:
        raise ValueError("per_second must be positive")
    return max(1, math.ceil(MICROS / per_second))


def gcra(tat: int | None, now: int, interval: int, burst: int) -> tuple[int, int | None]:
    """One GCRA decision in integer microseconds: (wait, new TAT), new TAT None when refused.

    Shared by the in-memory limiter and mirrored line for line by the Lua script, so both
    limiters decide alike.
    """
    start = max(tat if tat is not None else now, now)
    new_tat = start + interval
    allow_at = new_tat - interval * max(1, burst)
    if allow_at > now:
        return allow_at - now, None
    return 0, new_tat


# KEYS[1] budget key; ARGV[1] interval µs, ARGV[2] burst. Returns µs to wait (0 = taken).
# The clock is Redis's own TIME, so workers with skewed clocks still share one timeline.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if allow_at > now then
  return allow_at - now
end
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return 0
"""


class RedisRateLimiter:
    """Budgets shared by every worker through Redis; one atomic Lua call per reservation.

    Give it a URL when the limiter is shared by threads that each run their own event loop
    (Celery worker threads): a redis.asyncio connection belongs to the loop that opened it, so
    each loop gets its own client. A `Redis` instance is used as is, on its own loop.

    If Redis cannot be reached the limiter lets the send go (and logs): the platform's own 429
    still protects the account, and a limiter outage must not stop all replies.
    """

    def __init__(self, redis: Redis | str, *, prefix: str = "csbot:rl:", connections: int = 100) -> None:
        """A client, or a URL to connect to from each event loop with a pool of `connections`."""
        self._shared = redis if isinstance(redis, Redis) else None
        self._url = redis if isinstance(redis, str) else ""
        self._connections = connections
        self._prefix = prefix
        self._scripts: weakref.WeakKeyDictionary[AbstractEventLoop, AsyncScript] = weakref.WeakKeyDictionary()
        self._shared_script = self._shared.register_script(_GCRA_LUA) if self._shared is not None else None

    def _script(self) -> AsyncScript:
        if self._shared_script is not None:
            return self._shared_script
        loop = get_running_loop()
        script = self._scripts.get(loop)
        if script is None:
            script = redis_client(self._url, connections=self._connections).register_script(_GCRA_LUA)
            self._scripts[loop] = script
        return script

    async def reserve(self, key: str, *, per_second: float, burst: int = 1) -> float:
        interval = _interval_micros(per_second)
        try:
            wait = await self._script()(keys=[self._prefix + key], args=[interval, max(1, int(burst))])
        except RedisError as exc:
            log.warning("rate limiter unavailable (%s); sending without a local budget", type(exc).__name__)
            return 0.0
        return int(wait) / MICROS


class MemoryRateLimiter:
    """The same budgets for a single process (no Redis). Safe under asyncio: a reservation
    never awaits between reading and writing its key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[str, int] = {}

    async def reserve(self, key: str, *, per_second: float, burst: int = 1) -> float:
        now = int(self._clock() * MICROS)
        wait, new_tat = gcra(self._tat.get(key), now, _interval_micros(per_second), max(1, int(burst)))
        if new_tat is not None:
            self._tat[key] = new_tat
            self._forget_idle(now)
        return wait / MICROS

    def _forget_idle(self, now: int) -> None:
        """Keys whose TAT has passed hold no state worth keeping; drop them so memory stays
        bounded by the number of recently active recipients."""
        if len(self._tat) > 10_000:
            for key in [k for k, tat in self._tat.items() if tat <= now]:
                del self._tat[key]
