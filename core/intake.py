"""Intake: the only way a message enters the system. Dedupe → persist → enqueue, nothing slow.

Runs inside the webhook request, so the platform is acked only after the message is durable,
and a platform re-delivery finds the stored row and enqueues nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import BadInput, PayloadTooLarge
from core.messages import ContentKind, InboundMessage
from core.ports import JobQueue, Store

MAX_TEXT_CHARS = 8000


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: int
    duplicate: bool


def validate(message: InboundMessage) -> None:
    """Refuse what no turn could use, before anything is written."""
    if not message.channel or not message.platform_message_id or not message.conversation_key:
        raise BadInput("message needs channel, platform_message_id and conversation_key")
    if len(message.text) > MAX_TEXT_CHARS:
        raise PayloadTooLarge(f"message text is {len(message.text)} characters; the limit is {MAX_TEXT_CHARS}")
    if message.kind is ContentKind.TEXT and not message.text.strip():
        raise BadInput("text message is empty")


class Intake:
    def __init__(self, store: Store, jobs: JobQueue) -> None:
        self._store = store
        self._jobs = jobs

    async def accept(self, message: InboundMessage) -> Accepted:
        validate(message)
        message_id, created = await self._store.save_inbound(message)
        if created:
            self._jobs.enqueue_inbound(message_id)
        return Accepted(message_id, duplicate=not created)
