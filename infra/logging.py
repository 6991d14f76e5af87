"""Logging set-up, with a filter that keeps secrets out of every record."""

from __future__ import annotations

import logging
import os
import re

from core.nlu.redaction import mask_secrets

_SECRET_ENV = ("TOKEN", "SECRET", "PASSWORD", "API_KEY", "AUTH")
_FORMATTER = logging.Formatter()
_TOKEN_SHAPES = re.compile(r"(xox[abprs]-[\w-]+|\d{6,}:[\w-]{30,}|Bearer\s+[\w.-]+)")


class RedactSecrets(logging.Filter):
    """Replaces configured secret values and token-shaped strings with `***`, and masks card
    numbers and typed secrets (`core.nlu.redaction.mask_secrets`) in the message *and* in the
    exception text: SQLAlchemy puts a failed statement's parameters into its exception message,
    so a traceback would otherwise print what the customer typed."""

    def __init__(self) -> None:
        super().__init__()
        self._values = [v for k, v in os.environ.items() if any(s in k for s in _SECRET_ENV) and len(v) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self.clean(_FORMATTER.formatException(record.exc_info))
            record.exc_info = None  # formatted and cleaned once; handlers print exc_text
        elif record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        return True

    def clean(self, text: str) -> str:
        cleaned = mask_secrets(_TOKEN_SHAPES.sub("***", text))
        for value in self._values:
            cleaned = cleaned.replace(value, "***")
        return cleaned


def configure_logging(level: str = "INFO", *, quiet: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactSecrets())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else level.upper())
    for noisy in ("httpx", "httpcore", "httpx2", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
