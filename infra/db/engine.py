"""The async engine and session factory for PostgreSQL (asyncpg) or SQLite (aiosqlite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from infra.db.faults import translate_faults


def make_engine(url: str, *, pooled: bool = True) -> AsyncEngine:
    """An engine for `url`. SQLite gets WAL and a busy timeout so a worker and the web app can share
    the file; `pooled=False` suits processes that open an event loop per job. Failures that pass
    (lost connection, deadlock, ...) surface as `TransientStoreError` (see `infra.db.faults`)."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    if not pooled:
        kwargs["poolclass"] = NullPool
    else:
        # No pre-ping: it costs a round trip on every checkout, most of a webhook's time. A
        # connection that died with a database restart fails its request instead; the platform
        # re-delivers (nothing was stored or acked), and recycling retires old connections.
        kwargs["pool_recycle"] = 1800
    engine = create_async_engine(url, **kwargs)
    translate_faults(engine)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros, not just unlinked: an erased customer's words
    # must not stay readable in the file's free pages (see `infra.db.erasure`).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def make_sessions(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
