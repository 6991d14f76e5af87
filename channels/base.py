"""What every channel adapter offers the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from core.feedback import FeedbackStyle
from core.intake import Intake
from core.messages import Delivered, OutboundMessage

Webhook = Callable[[Request], Awaitable[Response]]


class Channel(Protocol):
    """A platform adapter: its webhook routes (path → handler) and its outbound side."""

    name: str
    # How this platform asks a customer to rate an answer (buttons, a "reply 1/2" line, not at all).
    feedback_style: FeedbackStyle

    def webhooks(self, intake: Intake) -> dict[str, Webhook]:
        """POST routes this channel serves, e.g. {"/webhooks/telegram": handler}; handlers hand
        verified, parsed messages to `intake` (persist + enqueue) before answering 2xx."""

    async def send(self, message: OutboundMessage) -> Delivered: ...
