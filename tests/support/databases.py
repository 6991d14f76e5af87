"""Test databases made quickly: migrated once per test process, copied or truncated per test.

Running the Alembic migrations costs about half a second per database (more on a busy
machine), and hundreds of tests want a fresh migrated SQLite file. `migrated_sqlite` migrates
one template file per process and gives each test a byte copy of it: the copy is the very
schema `upgrade` builds (the runtime's own upgrade then finds it at head and does nothing), so
no test runs on a schema the migrations did not make.

`fresh_postgres_database` is the one way the suite makes a PostgreSQL database of its own
(the session's migrated database, the migration tests' empty ones): created through the admin
connection, dropped with FORCE however the test ended.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PG_ADMIN_URL = os.environ.get("CSBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

_template_lock = threading.Lock()
_template: Path | None = None


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _sqlite_template() -> Path:
    """This process's migrated SQLite file, made on first use and removed at exit."""
    global _template
    with _template_lock:
        if _template is None:
            from infra.db.migrate import upgrade

            folder = Path(tempfile.mkdtemp(prefix="csbot-sqlite-template-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            path = folder / "template.db"
            upgrade(sqlite_url(path))
            _template = path
        return _template


def migrated_sqlite(path: Path) -> str:
    """A SQLite database at `path`, migrated to head (a copy of the template); its URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_sqlite_template(), path)
    return sqlite_url(path)


def run_in_thread(coro: Any) -> Any:
    """Run a coroutine to completion from sync fixture code, even inside a running loop."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def pg_admin(sql: str) -> None:
    """Run one statement on the admin database (CREATE/DROP DATABASE cannot run in a transaction)."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_in_thread(run())


def pg_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the test server."""
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


@contextmanager
def fresh_postgres_database(prefix: str = "csbot_test") -> Iterator[str]:
    """An empty PostgreSQL database of the caller's own (no schema), dropped afterwards; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
