"""Database faults for tests: PostgreSQL closes every other connection to the database, as when
it restarts or a network path drops, while the jobs are using them."""

from __future__ import annotations

import asyncpg

from tests.conftest import run_in_thread

TERMINATE_OTHERS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def terminate_connections(database_url: str) -> int:
    """Terminate every other session on the database; returns how many were terminated."""

    async def terminate() -> int:
        conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            return sum(1 for row in await conn.fetch(TERMINATE_OTHERS) if row[0])
        finally:
            await conn.close()

    return run_in_thread(terminate())
