"""Stored records as the domain sees them: read models handed out by the `Store` port."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from core.messages import Button, ContentKind


class Role(StrEnum):
    """Who wrote a turn; the prompt tells the model when a person, not the bot, answered."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"


class InboundStatus(StrEnum):
    RECEIVED = "received"
    ANSWERED = "answered"
    RELAYED = "relayed"  # a human owns the conversation; passed to the agent instead


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"  # dead letter: will not be retried; `last_error` says why


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    channel: str
    conversation_key: str
    customer_id: str
    language: str
    mode: str  # "bot", or the handoff state while a human is involved
    failed_turns: int = 0
    customer_name: str = ""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    conversation_id: int
    channel: str
    platform_message_id: str
    text: str
    kind: ContentKind
    status: InboundStatus
    received_at: datetime
    metadata: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class Turn:
    """One line of conversation history, in order."""

    role: Role
    text: str


@dataclass(frozen=True, slots=True)
class Outbound:
    """An outbox row with its delivery state."""

    id: int
    conversation_id: int
    channel: str
    conversation_key: str
    text: str
    idempotency_key: str
    language: str
    status: OutboxStatus
    attempts: int
    buttons: tuple[Button, ...] = ()
    last_error: str = ""
    not_before: float = 0.0  # epoch seconds; a retry is not sent before then
    metadata: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
