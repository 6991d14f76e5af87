"""Schema migrations (Alembic), configured in code so no alembic.ini has to sit in the working dir."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


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
