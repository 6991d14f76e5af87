"""Ports: the roles the domain needs filled, as `typing.Protocol`s.

`infra` fills the storage, lock and rate-limit roles, `workers` the job queue and the LLM
server, `channels` the senders; `bots` wires them together. Nothing here knows which.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from core.messages import Delivered, InboundMessage, OutboundMessage
from core.records import Conversation, Outbound, StoredMessage, Turn
from core.reply import Reply


class Store(Protocol):
    """Durable state: conversations, messages, the outbox. Each call is its own transaction."""

    async def save_inbound(self, message: InboundMessage) -> tuple[int, bool]:
        """Persist a message; returns (message id, created). A duplicate returns (id, False)."""

    async def get_message(self, message_id: int) -> StoredMessage: ...

    async def get_conversation(self, conversation_id: int) -> Conversation: ...

    async def next_unanswered(self, conversation_id: int) -> StoredMessage | None:
        """The oldest inbound message of the conversation that has no reply yet."""

    async def history(self, conversation_id: int, before_message_id: int, limit: int) -> list[Turn]:
        """The last `limit` turns before a message, oldest first."""

    async def record_reply(self, message_id: int, reply: Reply) -> int:
        """Write the reply to the outbox and mark the message answered, atomically.

        Idempotent: a second call for the same message returns the existing outbox id.
        """

    async def set_conversation_state(
        self, conversation_id: int, *, language: str | None = None, failed_turns: int | None = None
    ) -> None: ...

    async def due_outbound(self, conversation_id: int) -> list[Outbound]:
        """Outbox rows of the conversation still to send, in the order they were written."""

    async def get_outbound(self, outbound_id: int) -> Outbound: ...

    async def mark_sending(self, outbound_id: int) -> bool:
        """Compare-and-set pending → sending; False when someone else has it or it is done."""

    async def mark_sent(self, outbound_id: int, delivered: Delivered) -> None: ...

    async def mark_retry(self, outbound_id: int, error: str, *, delay: float) -> None:
        """Back to pending after a failed attempt (attempts + 1), not to be sent for `delay` s."""

    async def mark_failed(self, outbound_id: int, reason: str) -> None:
        """Dead letter: visible, never retried."""


class JobQueue(Protocol):
    """Where slow work goes. Celery on Redis, or background tasks in this process."""

    def enqueue_inbound(self, message_id: int) -> None: ...

    def enqueue_delivery(self, outbound_id: int, *, delay: float = 0.0) -> None: ...


class Locks(Protocol):
    """Mutual exclusion per key across every worker (a Redis lock, or an asyncio lock)."""

    def hold(self, key: str, *, timeout: float) -> AbstractAsyncContextManager[None]: ...


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    messages: tuple[ChatMessage, ...]
    max_new_tokens: int = 400
    temperature: float = 0.3
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    # The grounding the prompt was built from; an extractive generator answers from it alone.
    passages: tuple[str, ...] = field(default=(), compare=False)
    language: str = "en"


class Generator(Protocol):
    """Turns a prompt into an answer: an LLM server, or the embedded extractive responder."""

    async def generate(self, request: GenerationRequest) -> str: ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[str]: ...


class ChannelSender(Protocol):
    """One platform's outbound side. Raises `RateLimited`, `TransientDeliveryError` or
    `PermanentDeliveryError` so delivery knows whether to wait, retry or dead-letter."""

    name: str

    async def send(self, message: OutboundMessage) -> Delivered: ...


class TypingIndicator(Protocol):
    """A channel that can show the customer a "working on it" signal while a turn runs."""

    async def typing(self, conversation_key: str) -> None: ...


class ChannelRegistry(Protocol):
    def __getitem__(self, name: str) -> ChannelSender: ...

    def __contains__(self, name: object) -> bool: ...


Senders = dict[str, ChannelSender]
PassageList = Sequence[str]


class RateLimiter(Protocol):
    """Shared send budgets (per chat, per channel, per phone number) across every worker."""

    async def reserve(self, key: str, *, per_second: float, burst: int = 1) -> float:
        """Take one send from `key`'s budget; returns 0 to go now, else the seconds to wait."""
