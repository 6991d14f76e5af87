"""The Graph API's answers to `POST /{phone-number-id}/messages`, as the typed errors delivery acts on.

Meta reports failures as `{"error": {"code": …, "message": …}}`. What waiting fixes is
`RateLimited`, what can never succeed is permanent, and code 131047 is its own error: the
customer last wrote more than 24 hours ago, so only an approved template may be sent.
"""

from __future__ import annotations

from typing import Any

from channels.whatsapp.spec import NAME
from core.errors import DeliveryError, PermanentDeliveryError, RateLimited, TransientDeliveryError

WINDOW_CLOSED_CODE = 131047
# Throughput (130429), spam (131048) and per-customer pair (131056) limits, and app call limits.
RATE_LIMIT_WAITS = {4: 60.0, 80007: 60.0, 130429: 1.0, 131048: 60.0, 131056: 6.0}
# Bad token or permissions, invalid parameters, an undeliverable or unknown recipient, templates
# that do not exist or do not fit: the same request will fail the same way.
PERMANENT_CODES = frozenset(
    {10, 100, 190, 200, 131008, 131009, 131021, 131026, 131031, 131051, 132000, 132001, 132005, 132007, 132012}
)


class WindowClosed(PermanentDeliveryError):
    """A free-form message outside the 24-hour customer-service window."""

    def __init__(self, detail: str) -> None:
        super().__init__(NAME, f"outside WhatsApp's 24-hour customer-service window ({detail}); "
                               "set WHATSAPP_TEMPLATE to reach the customer with an approved template")


def graph_error(status: int, body: Any) -> DeliveryError:
    """The delivery error for a refused Graph API call."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else 0
    reason = f"graph {code or f'HTTP {status}'}: {str(error.get('message') or '')[:200]}".rstrip(": ")
    if code == WINDOW_CLOSED_CODE:
        return WindowClosed("refused by the platform")
    if code in RATE_LIMIT_WAITS or status == 429:
        return RateLimited(NAME, RATE_LIMIT_WAITS.get(code, 1.0), reason)
    if code in PERMANENT_CODES or status in (401, 403, 404):
        return PermanentDeliveryError(NAME, reason)
    return TransientDeliveryError(NAME, reason)
