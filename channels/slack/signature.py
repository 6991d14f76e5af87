"""Slack's v0 request signature, checked over the raw body before anything is read (fail closed)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from slack_sdk.signature import SignatureVerifier

from channels.http import WebRequest, WebResponse
from core.errors import SignatureInvalid

log = logging.getLogger(__name__)

MAX_TIMESTAMP_DIGITS = 12  # Unix seconds fit in 10 digits until the year 2286


def verify(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> None:
    """Fail closed: a missing, malformed, wrong or stale (>5 min) signature raises, whatever the
    bytes. Slack signs UTF-8 bodies with a ten-digit timestamp; a body that is not UTF-8 or a
    timestamp of absurd length cannot be Slack's and is refused before any arithmetic on it."""
    timestamp = (headers.get("x-slack-request-timestamp") or "").strip()
    signature = headers.get("x-slack-signature")
    if not signature or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise SignatureInvalid("missing or malformed Slack signature headers")
    try:
        valid = verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except (UnicodeDecodeError, TypeError, ValueError, OverflowError) as exc:
        raise SignatureInvalid(f"Slack signature cannot be checked: {type(exc).__name__}") from None
    if not valid:
        raise SignatureInvalid("Slack signature does not match or timestamp is stale")


def refuse_unsigned(verifier: SignatureVerifier, request: WebRequest) -> WebResponse | None:
    """None when Slack signed `body`; else the refusal to answer (and nothing is read further)."""
    try:
        verify(verifier, request.body, request.headers)
    except SignatureInvalid as exc:
        log.warning("slack %s: refused unsigned or forged request: %s", request.path, exc)
        return WebResponse.json({"error": "invalid signature"}, status=exc.status_code)
    return None



def refusal(status: int, error: str) -> WebResponse:
    """An error answer Slack should not retry: retrying the same bytes cannot succeed."""
    return WebResponse.json({"error": error}, status=status, headers={"X-Slack-No-Retry": "1"})
