"""The Alembic migrations build exactly the schema the models describe, on both databases, and
migrate once however many pods run them at the same moment."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from infra.db.migrate import MIGRATION_LOCK, alembic_config, upgrade
from tests.conftest import require_services
from tests.support.databases import fresh_postgres_database, run_in_thread


def test_migrations_match_the_models_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    upgrade(url)
    command.check(alembic_config(url))  # raises when the models and the migrations differ


def test_migrations_match_the_models_on_postgres(postgres_url: str) -> None:
    command.check(alembic_config(postgres_url))


def test_downgrade_to_the_first_revision_and_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/d.db"
    upgrade(url)
    command.downgrade(alembic_config(url), "0001")
    upgrade(url)
    command.check(alembic_config(url))


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty PostgreSQL database of this test's own (no schema), dropped afterwards."""
    require_services()
    with fresh_postgres_database("csbot_migrate") as url:
        yield url


def versions(url: str) -> list[str] | None:
    """The rows of alembic_version, or None while the table does not exist."""
    import asyncpg

    async def read() -> list[str] | None:
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            if not await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"):
                return None
            return [row["version_num"] for row in await conn.fetch("SELECT version_num FROM alembic_version")]
        finally:
            await conn.close()

    return run_in_thread(read())


def head() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def test_upgrades_started_at_once_on_a_fresh_database_all_succeed(fresh_postgres: str, tmp_path: Path) -> None:
    from tests.test_cli import csbot

    def pod() -> subprocess.CompletedProcess[str]:
        return csbot("db", "upgrade", cwd=tmp_path, env={"DATABASE_URL": fresh_postgres})

    with ThreadPoolExecutor(3) as pool:  # three pods' init containers starting together
        runs = list(pool.map(lambda _: pod(), range(3)))
    for run in runs:  # none failed on a duplicate table or version row
        assert run.returncode == 0, run.stderr
    assert versions(fresh_postgres) == [head()]
    command.check(alembic_config(fresh_postgres))


def test_an_upgrade_waits_while_another_holds_the_migration_lock(fresh_postgres: str) -> None:
    import asyncpg

    async def scenario() -> tuple[bool, list[str] | None]:
        holder = await asyncpg.connect(fresh_postgres.replace("+asyncpg", ""))
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)  # another pod migrating
            waiting = threading.Thread(target=upgrade, args=(fresh_postgres,))
            waiting.start()
            await asyncio.sleep(1.5)
            blocked = waiting.is_alive()
            during = versions(fresh_postgres)
            await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
            await asyncio.to_thread(waiting.join, 120)
            return blocked, during
        finally:
            await holder.close()

    blocked, during = run_in_thread(scenario())
    assert blocked and during is None  # it waited and touched nothing
    assert versions(fresh_postgres) == [head()]
