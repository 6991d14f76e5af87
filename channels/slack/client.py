"""The Web API client, and its failures as the typed errors delivery acts on."""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from channels.retry_after import retry_after_seconds
from channels.slack.config import SlackConfig
from channels.slack.spec import NAME
from core.errors import DeliveryError, PermanentDeliveryError, RateLimited, TransientDeliveryError

# Replies to these never succeed by waiting: the bot was removed, the channel archived, the
# customer deactivated, or our token/scopes are wrong. Everything else is worth a retry.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "restricted_action",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_arguments",
    }
)


def delivery_error(exc: SlackApiError) -> DeliveryError:
    """Map a Web API failure to the typed error delivery acts on (wait, retry, dead-letter)."""
    response = exc.response
    status = getattr(response, "status_code", 0)
    data = getattr(response, "data", None)
    code = data.get("error", "") if isinstance(data, dict) else ""
    if status == 429 or code in ("ratelimited", "rate_limited"):
        return RateLimited(NAME, retry_after_of(response), reason=f"slack {code or 'HTTP 429'}")
    if code in PERMANENT_ERRORS:
        return PermanentDeliveryError(NAME, code)
    return TransientDeliveryError(NAME, code or f"HTTP {status}")


def retry_after_of(response: Any) -> float:
    headers = getattr(response, "headers", None) or {}
    raw = headers.get("Retry-After") or headers.get("retry-after")
    return retry_after_seconds(raw, default=1.0)


def make_client(config: SlackConfig) -> AsyncWebClient:
    """A Web API client that never re-posts on its own.

    slack_sdk retries a 429 only when a `RateLimitErrorRetryHandler` is added; it is not, so a
    429 surfaces as `RateLimited` and the outbox reschedules the row with Slack's Retry-After
    instead of a worker sleeping. The stock connection-error handler is narrowed to failures
    to *connect*: a dropped connection or a timeout after the request went out may mean Slack
    already posted the message, and an immediate in-client retry would post it twice. Those
    surface as `TransientDeliveryError`, and the outbox retry is the single place that decides.

    No aiohttp session is passed, so the client opens one per call and holds nothing bound to
    an event loop: it works unchanged in the web process and in `asyncio.run`-per-task workers.
    """
    return AsyncWebClient(
        token=config.bot_token,
        base_url=config.api_url,
        timeout=int(max(1, config.timeout_seconds)),
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1, error_types=[aiohttp.ClientConnectorError])],
    )
