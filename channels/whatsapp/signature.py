"""Meta's webhook checks: the subscription handshake and the body signature.

Every delivery carries `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body
keyed with the app secret. It is checked before the body is parsed and compared in constant
time; anything missing, malformed or different is refused (fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "x-hub-signature-256"
PREFIX = "sha256="


def signature_of(body: bytes, app_secret: str) -> str:
    """The header value Meta sends for `body`."""
    return PREFIX + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def refusal_status(body: bytes, header: str, app_secret: str) -> int | None:
    """None when Meta signed `body`; else the status to refuse with (401 missing, 403 wrong)."""
    if not header:
        return 401
    expected = signature_of(body, app_secret).encode("ascii")
    if not header.isascii() or not hmac.compare_digest(header.encode("ascii"), expected):
        return 403
    return None


def challenge_answer(query: Mapping[str, str], verify_token: str) -> str | None:
    """The `hub.challenge` to echo when Meta subscribes with our verify token; None otherwise."""
    token = query.get("hub.verify_token", "")
    if query.get("hub.mode") != "subscribe" or not token or not token.isascii():
        return None
    if not hmac.compare_digest(token.encode("ascii"), verify_token.encode("utf-8")):
        return None
    return query.get("hub.challenge", "")
