"""Whether the parts a process depends on answer: one probe each, for `/readyz`, `csbot doctor`
and `/csbot status` alike. "off" means not configured; errors are named, never raised."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ports import Generator
from workers.llm import LLMServerGenerator


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
