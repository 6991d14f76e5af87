"""Stored records as the domain sees them: read models handed out by the `Store` port."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from typing import Any

from core.messages import Button, ContentKind
from core.reply import Reply


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
class PendingTurn:
    """What a turn needs from storage, read in one transaction: the oldest unanswered message of
    a conversation, the conversation's state and the history before that message.

    `message` is None when nothing is left unanswered (a redelivered or duplicate job). `more`
    says another unanswered message follows it, for the same job to answer next.
    """

    conversation: Conversation
    message: StoredMessage | None
    history: tuple[Turn, ...] = ()
    more: bool = False


@dataclass(frozen=True, slots=True)
class AnsweredTurn:
    """Everything a turn writes, in one transaction: the reply for the outbox, the message's
    analysis and status, and the conversation's language and failed-turn count."""

    conversation: Conversation
    message: StoredMessage
    reply: Reply
    analysis: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    failed_turns: int = 0


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
