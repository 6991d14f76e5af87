"""Database faults for tests: PostgreSQL closes every other connection to the database, as when
it restarts or a network path drops, while the jobs are using them."""

from __future__ import annotations

import threading

import asyncpg

from tests.conftest import run_in_thread

TERMINATE_OTHERS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


# Kills fired at once (from the fake LLM and the fake platform) would terminate each other's
# admin connection: one at a time.
_ONE_AT_A_TIME = threading.Lock()


def terminate_connections(database_url: str) -> int:
    """Terminate every other session on the database; returns how many were terminated."""

    async def terminate() -> int:
        conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            return sum(1 for row in await conn.fetch(TERMINATE_OTHERS) if row[0])
        finally:
            await conn.close()

    with _ONE_AT_A_TIME:
        return run_in_thread(terminate())
