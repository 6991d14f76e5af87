"""Whether the parts a process depends on answer: one probe each, for `/readyz`, `csbot doctor`
and `/csbot status` alike. "off" means not configured; errors are named, never raised.

Readiness is what the *web tier* needs to take a webhook: the database to store it and Redis
(when configured) to enqueue it. The LLM server is reported beside them but never makes the
web tier unready: webhooks are only stored and enqueued, and a turn whose generation fails
still answers (the knowledge fallback), so shedding web pods would only lose messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ports import Generator
from infra.db.backlog import count_backlog
from infra.db.engine import make_sessions
from infra.metrics import LLM_UP, record_backlog
from workers.celery_app import INBOUND_QUEUE, LEARNING_QUEUE, OUTBOUND_QUEUE, Queues
from workers.llm import LLMServerGenerator

if TYPE_CHECKING:  # bots.runtime wires the handoff side, which uses the probes above
    from bots.runtime import Runtime

log = logging.getLogger(__name__)

QUEUES = (INBOUND_QUEUE, OUTBOUND_QUEUE, LEARNING_QUEUE)
# What readiness requires; other checks are reported only.
REQUIRED = ("database", "redis")


async def database_state(db: AsyncEngine) -> str:
    try:
        async with db.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready
        return f"error: {type(exc).__name__}"
    return "ok"


async def redis_state(redis: Redis | None) -> str:
    if redis is None:
        return "off"
    try:
        await redis.ping()
    except Exception as exc:  # Redis down is exactly what a probe reports
        return f"error: {type(exc).__name__}"
    return "ok"


async def llm_state(generator: Generator) -> str:
    """The LLM server's health; "off" for the embedded extractive responder."""
    if not isinstance(generator, LLMServerGenerator):
        return "off"
    return "ok" if await generator.health() else "error: unreachable"


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        """Every required part answers (or is not configured)."""
        return all(self.checks[name] in ("ok", "off") for name in REQUIRED)

    @property
    def healthy(self) -> bool:
        """Every part answers, the LLM server included: what `csbot doctor` asks for."""
        return all(state in ("ok", "off") for state in self.checks.values())

    def body(self) -> dict[str, object]:
        return {"ready": self.ready, "required": list(REQUIRED), "checks": self.checks}


async def readiness(runtime: Runtime) -> Readiness:
    """DB, Redis and LLM server reachability; the LLM's also goes to `csbot_llm_up`."""
    checks = {
        "database": await database_state(runtime.db),
        "redis": await redis_state(runtime.redis),
        "llm": await llm_state(runtime.generator),
    }
    if checks["llm"] != "off":
        LLM_UP.set(1 if checks["llm"] == "ok" else 0)
    return Readiness(checks)


async def queue_depths(redis: Redis | None, queues: Queues = Queues()) -> dict[str, int]:
    """Jobs waiting per Celery queue, by role (Celery's Redis transport keeps each queue as a
    list, under the namespace's key prefix)."""
    if redis is None:
        return {}
    return {role: int(await redis.llen(queues.redis_key(role))) for role in QUEUES}


async def refresh_gauges(runtime: Runtime) -> None:
    """Count the backlog for this scrape. A part that is down leaves its gauges as they were:
    the scrape itself must still answer."""
    await readiness(runtime)
    try:
        queues = await queue_depths(runtime.redis, Queues(runtime.settings.csbot_namespace))
        backlog = await count_backlog(make_sessions(runtime.db))
    except Exception as exc:  # a scrape reports what it can; /readyz names the failure
        log.warning("backlog gauges not refreshed: %s: %s", type(exc).__name__, exc)
        return
    record_backlog(
        queues=queues, outbox=backlog.outbox, handoffs_waiting=backlog.handoffs_waiting,
        oldest_wait_seconds=backlog.oldest_wait_seconds,
    )
