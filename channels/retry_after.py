"""A platform's `Retry-After` header as seconds to wait.

RFC 9110 allows two forms, delay-seconds ("7") and an HTTP-date; Slack sends the first, and
proxies or load balancers in front of an API may send either. Anything unreadable falls back
to the caller's default rather than to "now": a rate-limited send must never be retried early.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime


def retry_after_seconds(raw: str | None, *, default: float) -> float:
    """Seconds until a send may be repeated, never negative; `default` when `raw` says nothing."""
    if raw is None or not raw.strip():
        return default
    value = raw.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        return default
    return max(0.0, when.timestamp() - time.time())
