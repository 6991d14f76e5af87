"""Schema migrations (Alembic), configured in code so no alembic.ini has to sit in the working dir.

Several pods may run `csbot db upgrade` at the same moment (every web and worker pod has it as
an init container). On PostgreSQL each run first takes a transaction-level advisory lock, so
the runs go one after another: the first migrates, the later ones wait, then find the schema
at head and do nothing. The lock is released by the commit that makes the new schema visible.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# The advisory lock's key ("csbot" in ASCII); advisory locks are scoped to one database.
MIGRATION_LOCK: Final = 0x6373626F74


def hold_migration_lock(connection: Connection) -> None:
    """Wait until no other process migrates this database, then keep it to this transaction.

    Only PostgreSQL needs it: SQLite serialises writers with its file lock already."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to `revision`. Safe to call from inside a running event loop."""
    def run() -> None:
        command.upgrade(alembic_config(database_url), revision)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        run()
        return
    # env.py runs its own event loop; give it a thread of its own.
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            run()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=guarded)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
