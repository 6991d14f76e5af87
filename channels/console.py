"""The console channel: `csbot chat` in a terminal or a pipe, through the same intake and outbox."""

from __future__ import annotations

import asyncio
import itertools
import uuid

from channels.spec import Capabilities
from core.feedback import FeedbackStyle
from core.messages import Delivered, InboundMessage, OutboundMessage

NAME = "console"


class ConsoleChannel:
    """Replies land on a queue the chat loop reads; one conversation per chat session."""

    name = NAME
    capabilities = Capabilities(feedback_style=FeedbackStyle.NONE)

    def __init__(self, session: str | None = None) -> None:
        self.session = session or uuid.uuid4().hex[:12]
        self.replies: asyncio.Queue[OutboundMessage] = asyncio.Queue()
        self._counter = itertools.count(1)

    def inbound(self, text: str) -> InboundMessage:
        return InboundMessage(
            channel=NAME,
            platform_message_id=f"{self.session}:{next(self._counter)}",
            conversation_key=self.session,
            sender_id="console-user",
            text=text,
        )

    async def send(self, message: OutboundMessage) -> Delivered:
        await self.replies.put(message)
        return Delivered(platform_message_id=f"console:{message.id}")
