"""Ports: the roles the domain needs filled, as `typing.Protocol`s.

`infra` fills the storage, lock and rate-limit roles, `workers` the job queue and the LLM
server, `channels` the senders; `bots` wires them together. Nothing here knows which.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.desk_card import DeskCard
from core.feedback import VotePress
from core.handoff import Handoff, HandoffEvent, HandoffState, PendingRating
from core.knowledge import Article
from core.knowledge_suggestions import HandoffExchange, Suggestion
from core.messages import Delivered, InboundMessage, OutboundMessage
from core.records import AnsweredTurn, Conversation, Outbound, PendingTurn, StoredMessage, Turn
from core.reply import Reply
from core.stats import Stats


class Store(Protocol):
    """Durable state: conversations, messages, the outbox. Each call is its own transaction."""

    async def save_inbound(self, message: InboundMessage) -> tuple[int, bool]:
        """Persist a message; returns (message id, created). A duplicate returns (id, False)."""

    async def get_message(self, message_id: int) -> StoredMessage: ...

    async def get_conversation(self, conversation_id: int) -> Conversation: ...

    async def pending_turn(self, message_id: int, *, history_turns: int) -> PendingTurn:
        """In one read: the conversation of `message_id`, its oldest unanswered message and up
        to `history_turns` turns before that. `NotFound` for an unknown message."""

    async def record_turn(self, turn: AnsweredTurn, *, claim: bool) -> Outbound | None:
        """In one write: mark the message answered with its analysis, write the reply to the
        outbox and the conversation's state. With `claim`, the row is written already `sending`
        when nothing earlier of the conversation is pending or sending (its sender sends it now),
        else `pending`. None, writing nothing, when the message was answered meanwhile."""

    async def written_since(self, conversation_id: int, message_id: int) -> bool:
        """Whether the customer has written again after this message."""

    async def history(self, conversation_id: int, before_message_id: int, limit: int) -> list[Turn]:
        """The last `limit` turns before a message, oldest first."""

    async def record_reply(self, message_id: int, reply: Reply) -> int:
        """Write the reply to the outbox and mark the message answered, atomically.

        Idempotent: a second call for the same message returns the existing outbox id.
        """

    async def set_conversation_state(
        self, conversation_id: int, *, language: str | None = None, failed_turns: int | None = None
    ) -> None: ...

    async def save_understanding(self, message_id: int, understanding: dict[str, Any]) -> None:
        """What NLU and the policy made of a message (redacted: entity kinds, never values)."""

    async def due_outbound(self, conversation_id: int) -> list[Outbound]:
        """Outbox rows of the conversation still to send, in the order they were written."""

    async def get_outbound(self, outbound_id: int) -> Outbound: ...

    async def mark_sending(self, outbound_id: int) -> Outbound | None:
        """Compare-and-set pending → sending in one statement, returning the claimed row; None
        when someone else has it or it is done."""

    async def mark_sent(self, outbound_id: int, delivered: Delivered) -> None: ...

    async def mark_retry(self, outbound_id: int, error: str, *, delay: float) -> None:
        """Back to pending after a failed attempt (attempts + 1), not to be sent for `delay` s."""

    async def mark_failed(self, outbound_id: int, reason: str) -> None:
        """Dead letter: visible, never retried."""


class FeedbackStore(Protocol):
    """Customers' 👍/👎 on answers (see `core.feedback`)."""

    async def record_vote(self, press: VotePress) -> str | None:
        """Store the vote, or change it when the customer presses again; one per answer.
        Returns the answer's language (for the thanks); None when the conversation the press
        came from has no answer with that id asking for a vote."""

    async def open_text_vote(self, conversation_id: int) -> int | None:
        """The answer a typed "1"/"2" would rate: the conversation's latest outbox row, when it
        asked for a vote."""


class JobQueue(Protocol):
    """Where slow work goes. Celery on Redis, or background tasks in this process."""

    def enqueue_inbound(self, message_id: int) -> None: ...

    def enqueue_delivery(self, outbound_id: int, *, delay: float = 0.0) -> None: ...

    def enqueue_desk(self, handoff_id: int, *, delay: float = 0.0) -> None:
        """Bring the agents' desk up to date for a handoff (ping, relayed messages, state)."""

    def enqueue_admin(self, audit_id: int) -> None:
        """Run a slow admin command recorded in the audit log; it answers via its response_url."""


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




class RateLimiter(Protocol):
    """Shared send budgets (per chat, per channel, per phone number) across every worker."""

    async def reserve(self, key: str, *, per_second: float, burst: int = 1) -> float:
        """Take one send from `key`'s budget; returns 0 to go now, else the seconds to wait."""


# --- handoff to people ---------------------------------------------------------------------


class HandoffStore(Protocol):
    """Handoffs, their audit trail, and what was posted to the desk. Every state change is a
    compare-and-set that returns None (changing nothing) when the expected state is gone."""

    async def escalate(
        self, message_id: int, ack: Reply, *, reason: str, rule: str, suggested_reply: str, actor: str
    ) -> Handoff | None:
        """One transaction: `ack` as the message's reply, the conversation bot → waiting, a
        waiting handoff and its first event. None when the conversation is not the bot's."""

    async def takeover(self, conversation_id: int, *, agent_id: str, reason: str, actor: str) -> Handoff | None:
        """Bot → claimed by `agent_id` directly; None when the conversation is not the bot's."""

    async def transition(
        self,
        handoff_id: int,
        *,
        source: HandoffState,
        target: HandoffState,
        actor: str,
        agent_id: str | None = None,
        note: str = "",
        rating_prompt: str | None = None,
    ) -> Handoff | None:
        """Move `source` → `target` if the handoff is still in `source`; the conversation's mode
        follows. `rating_prompt` (on resolve) is written to the outbox in the same transaction."""

    async def get_handoff(self, handoff_id: int) -> Handoff: ...

    async def open_handoff(self, conversation_id: int) -> Handoff | None: ...

    async def handoff_by_thread(self, thread_ts: str) -> Handoff | None: ...

    async def open_handoffs(self) -> list[Handoff]: ...

    async def overdue_handoffs(self, created_before: datetime) -> list[Handoff]:
        """Waiting handoffs created before the cut-off and never paged."""

    async def set_desk_thread(self, handoff_id: int, thread_ts: str) -> bool: ...

    async def mark_paged(self, handoff_id: int, at: datetime) -> bool:
        """Compare-and-set paged_at NULL → `at`: True for exactly one caller."""

    async def unmark_paged(self, handoff_id: int) -> None: ...

    async def events(self, handoff_id: int) -> list[HandoffEvent]: ...

    async def relay(self, message_id: int) -> None:
        """Mark an inbound message RELAYED: a person answers it, the bot does not."""

    async def unposted_relays(self, conversation_id: int) -> list[StoredMessage]:
        """Relayed messages of the conversation not yet posted to the desk, oldest first."""

    async def desk_post(self, key: str) -> str | None:
        """The desk message id stored under `key`, if that post was already made."""

    async def record_desk_post(self, handoff_id: int, key: str, ts: str) -> None: ...

    async def record_agent_reply(
        self, conversation_id: int, text: str, *, key: str, agent_id: str
    ) -> tuple[int, bool]:
        """An agent's message into the conversation's outbox (role agent); (id, created).
        Idempotent on `key`."""

    async def take_pending_rating(self, conversation_id: int) -> PendingRating | None:
        """The rating question still open for this conversation, closing it (compare-and-set)."""

    async def record_rating(self, conversation_id: int, outbound_id: int, score: int) -> bool: ...

    async def understanding_of(self, message_id: int) -> dict[str, Any]: ...

    async def last_customer_message(self, conversation_id: int) -> StoredMessage | None: ...


class AgentDesk(Protocol):
    """Where people see handoffs and answer them (a Slack channel)."""

    async def post_card(self, card: DeskCard) -> str:
        """Post the handoff's card; returns its message id, which its thread hangs off."""

    async def update_card(self, thread_ts: str, card: DeskCard) -> None: ...

    async def post_in_thread(self, thread_ts: str, text: str) -> str: ...


class Pager(Protocol):
    """Wakes the on-call agent (an SMS)."""

    async def page(self, text: str) -> None: ...


class BotState(Protocol):
    """Small operational switches admins flip at run time (the pause), shared by every process."""

    async def get_state(self, key: str) -> dict[str, Any]: ...

    async def set_state(self, key: str, value: dict[str, Any]) -> None: ...


class KnowledgeStore(Protocol):
    """Knowledge added at run time, next to the bot's files."""

    async def knowledge_documents(self, bot: str) -> list[Article]: ...

    async def knowledge_stamp(self, bot: str) -> tuple[int, int]:
        """(count, newest id) of active documents: cheap to compare, changes on every add."""

    async def add_knowledge(self, bot: str, *, title: str, body: str, language: str) -> int: ...


class KnowledgeSuggestionStore(Protocol):
    """Agent answers proposed as knowledge documents (status "suggested", never searched until
    an admin approves them), and what was said during the handoffs they come from."""

    async def handoff_exchange(self, handoff_id: int) -> HandoffExchange:
        """The customer's words that led to the handoff (the message that opened it, and those
        sent before the agent's first answer) and the agent's replies to the customer during
        it, oldest first. Raises `NotFound` for a handoff that does not exist."""

    async def suggest_knowledge(self, bot: str, handoff_id: int, *, title: str, body: str, language: str) -> int | None:
        """Store a suggested document for the handoff; its id, or None when the handoff has
        one already (at most one per handoff, however many callers race)."""

    async def knowledge_suggestions(self, bot: str) -> list[Suggestion]:
        """Suggestions waiting for a decision, oldest first."""

    async def decide_suggestion(self, bot: str, document_id: int, status: str) -> Suggestion:
        """Compare-and-set a pending suggestion to `status` ("active" or "rejected"). Raises
        `UnknownSuggestion` (no such suggestion) or `SuggestionDecided` (decided before)."""


class AdminAudit(Protocol):
    """Every admin command, allowed or refused, with what it did."""

    async def record_admin(
        self, *, user_id: str, command: str, text: str, allowed: bool, outcome: str, response_url: str = "",
        channel_id: str = "",
    ) -> int: ...

    async def finish_admin(self, audit_id: int, outcome: str) -> None: ...

    async def admin_request(self, audit_id: int) -> tuple[str, str, str, str]:
        """(user_id, text, channel_id, response_url) of an audited command."""


class StatsSource(Protocol):
    async def stats(self, since: datetime, *, days: int) -> Stats: ...


class SystemStatus(Protocol):
    """What `/csbot status` reports about the running system: name → state, in order."""

    async def snapshot(self) -> dict[str, str]: ...


class AdminResponder(Protocol):
    """Answers a slow admin command after the fact (Slack's response_url)."""

    async def respond(self, response_url: str, text: str) -> None: ...


class RejectedRequests(Protocol):
    """Dead letters of the edge: signed webhooks that could not be understood."""

    async def record_rejected(self, channel: str, reason: str, body: bytes) -> None: ...


class ReplayGuard(Protocol):
    """Remembers signed requests already acted on, so a replayed one takes effect once."""

    async def first_time(self, key: str) -> bool:
        """True for the first call with `key`, False for every later one (in any process)."""
