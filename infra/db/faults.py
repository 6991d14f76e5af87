"""Which database errors pass, in one place: they are raised as `core.errors.TransientStoreError`.

Jobs retry a `TransientStoreError` with backoff and the core never sees a driver's exception
types, so every database (PostgreSQL through asyncpg, SQLite through aiosqlite) is judged by the
same table. The translation hooks SQLAlchemy's `handle_error` event, which runs for every failed
statement, commit and connect; SQLAlchemy still invalidates a dead connection (and the pool's
older ones) after the hook, so the retry gets a fresh connection.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import TransientStoreError

# PostgreSQL SQLSTATEs after which running the same transaction again can succeed.
RETRYABLE_SQLSTATES: dict[str, str] = {
    "40001": "serialization failure",
    "40P01": "deadlock detected",
    "57P01": "connection terminated by the server",
    "57P02": "server crashed",
    "57P03": "server not accepting connections yet",
    "53300": "too many connections",
}
CONNECTION_SQLSTATE_CLASS = "08"  # connection exceptions: lost, refused, never established

# Driver messages for a connection that is gone, where no SQLSTATE is given (asyncpg's
# InterfaceError, aiosqlite) or SQLite's lock contention, which passes once the writer commits.
TRANSIENT_MESSAGES: dict[str, str] = {
    "connection is closed": "connection lost",
    "connection was closed": "connection lost",
    "database is locked": "database is locked",
    "database is busy": "database is busy",
}


def classify(error: BaseException, *, disconnected: bool = False) -> TransientStoreError | None:
    """The `TransientStoreError` that `error` amounts to, or None when retrying cannot help."""
    for cause in _chain(error):
        sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(sqlstate, str):
            if sqlstate in RETRYABLE_SQLSTATES:
                return TransientStoreError(RETRYABLE_SQLSTATES[sqlstate], sqlstate=sqlstate)
            if sqlstate.startswith(CONNECTION_SQLSTATE_CLASS):
                return TransientStoreError("connection lost", sqlstate=sqlstate)
        text = str(cause).lower()
        for fragment, reason in TRANSIENT_MESSAGES.items():
            if fragment in text:
                return TransientStoreError(reason)
        if getattr(cause, "connection_invalidated", False):
            return TransientStoreError("connection lost")
    if disconnected:
        return TransientStoreError("connection lost")
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error`, the driver error it wraps (`.orig`), and their causes, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend([getattr(current, "orig", None), current.__cause__])


def raise_transient(context: ExceptionContext) -> None:
    """`handle_error` hook: replace a passing failure with `TransientStoreError`, leave the rest."""
    transient = classify(context.original_exception, disconnected=context.is_disconnect)
    if transient is not None:
        raise transient


def translate_faults(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "handle_error", raise_transient)
