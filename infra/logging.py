"""Logging set-up, with a filter that keeps secrets out of every record."""

from __future__ import annotations

import logging
import os
import re

_SECRET_ENV = ("TOKEN", "SECRET", "PASSWORD", "API_KEY", "AUTH")
_TOKEN_SHAPES = re.compile(r"(xox[abprs]-[\w-]+|\d{6,}:[\w-]{30,}|Bearer\s+[\w.-]+)")


class RedactSecrets(logging.Filter):
    """Replaces configured secret values and token-shaped strings with `***`."""

    def __init__(self) -> None:
        super().__init__()
        self._values = [v for k, v in os.environ.items() if any(s in k for s in _SECRET_ENV) and len(v) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _TOKEN_SHAPES.sub("***", message)
        for value in self._values:
            cleaned = cleaned.replace(value, "***")
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def configure_logging(level: str = "INFO", *, quiet: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactSecrets())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else level.upper())
    for noisy in ("httpx", "httpcore", "httpx2", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
