"""Tables. Unique constraints carry the exactly-once guarantees; the code relies on them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text,
    UniqueConstraint, text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


def now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Always aware UTC on the way out: SQLite stores no zone, PostgreSQL does."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime()}


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "conversation_key", name="uq_conversation_channel_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    conversation_key: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[str] = mapped_column(String(255))
    customer_name: Mapped[str] = mapped_column(String(255), default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    mode: Mapped[str] = mapped_column(String(16), default="bot")
    failed_turns: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class MessageRow(Base):
    """Inbound customer messages. (channel, platform_message_id) is the platform dedupe key."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "platform_message_id", name="uq_message_channel_platform_id"),
        Index("ix_messages_conversation_status", "conversation_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    platform_message_id: Mapped[str] = mapped_column(String(255))
    sender_id: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="text")
    status: Mapped[str] = mapped_column(String(16), default="received")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    understanding: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=now)
    answered_at: Mapped[datetime | None] = mapped_column(nullable=True)


class OutboxRow(Base):
    """Replies to send. `idempotency_key` makes a re-run of a turn find its reply, not add one."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        Index("ix_outbox_conversation_status", "conversation_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    in_reply_to: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="bot")
    channel: Mapped[str] = mapped_column(String(32))
    conversation_key: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="en")
    source: Mapped[str] = mapped_column(String(32), default="")
    buttons: Mapped[dict[str, Any]] = mapped_column(default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    platform_message_id: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # When the current send attempt began; a row long in `sending` lost its worker mid-send.
    sending_since: Mapped[datetime | None] = mapped_column(nullable=True)


OPEN_HANDOFF = text("state IN ('waiting', 'claimed')")


class HandoffRow(Base):
    """A conversation handed to a person: waiting → claimed → resolved, with timestamps.

    At most one open handoff per conversation (a partial unique index), whoever races to open one.
    """

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("uq_handoff_open_conversation", "conversation_id", unique=True,
              postgresql_where=OPEN_HANDOFF, sqlite_where=OPEN_HANDOFF),
        Index("ix_handoffs_desk_thread_ts", "desk_thread_ts"),
        Index("ix_handoffs_state", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    reason: Mapped[str] = mapped_column(Text, default="")
    agent_id: Mapped[str] = mapped_column(String(64), default="")
    desk_thread_ts: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    paged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    rule: Mapped[str] = mapped_column(String(32), default="", server_default="")
    suggested_reply: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The rating question written on resolve; open until the customer's next message.
    rating_outbound_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rating_open: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # The customer message that opened the handoff (None for an admin's takeover).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), nullable=True)


class HandoffEventRow(Base):
    """The audit trail of a handoff: every transition, who made it, when."""

    __tablename__ = "handoff_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16), default="")
    target: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=now)
    note: Mapped[str] = mapped_column(Text, default="")


class DeskPostRow(Base):
    """What was posted to the agents' desk, by key: the unique key makes each post happen once."""

    __tablename__ = "desk_posts"
    __table_args__ = (UniqueConstraint("key", name="uq_desk_post_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(128))
    ts: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(default=now)


class AdminAuditRow(Base):
    """Every `/csbot` command, refused ones included, and what it did."""

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    command: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")
    channel_id: Mapped[str] = mapped_column(String(64), default="")
    allowed: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(Text, default="")
    response_url: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class BotStateRow(Base):
    """Run-time switches shared by every process (e.g. `paused`), one JSON value per key."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class FeedbackRow(Base):
    """A customer's verdict on one answer (👍/👎, or a 1–5 rating after a handoff)."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("outbound_id", "kind", name="uq_feedback_outbound_kind"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # "thumbs" | "rating"
    score: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=now)


class KnowledgeDocumentRow(Base):
    """Knowledge added at run time (approved agent answers, `/csbot kb add`), besides the files.

    `status` is "active" (searchable), or for agent answers proposed on resolve "suggested"
    until an admin makes it "active" or "rejected". The unique `handoff_id` is what makes a
    handoff propose at most one entry, however often or concurrently it is resolved.
    """

    __tablename__ = "knowledge_documents"
    __table_args__ = (UniqueConstraint("handoff_id", name="uq_knowledge_document_handoff"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    bot: Mapped[str] = mapped_column(String(64), index=True)
    slug: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="admin")
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=now)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id", ondelete="SET NULL"), nullable=True)


class RejectedRequestRow(Base):
    """A signed webhook that could not be understood: answered so the platform stops re-sending,
    and kept here (reason, size and digest, never the body) so someone can look."""

    __tablename__ = "rejected_requests"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    body_bytes: Mapped[int] = mapped_column(Integer)
    body_sha256: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=now, index=True)


class ReplayRow(Base):
    """One row per signed admin command or click already acted on; the primary key is what makes
    a replay of the same signed body take effect once."""

    __tablename__ = "replays"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now, index=True)


class IntentModelRow(Base):
    """One trained intent model of a bot, pickled with its card (`metrics`). The row with `active`
    is the one every process serves; the rows before it stay for a rollback. Kept in the
    database so that any pod can load it without a shared volume."""

    __tablename__ = "intent_models"
    __table_args__ = (UniqueConstraint("bot", "version", name="uq_intent_models_bot_version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    bot: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=now)
    model: Mapped[bytes] = mapped_column(LargeBinary)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class RetainedCountRow(Base):
    """Anonymous counts of deleted conversations (expired or forgotten), one row per day and
    deletion: inserted, never updated, so deletions running at once never contend; `/csbot
    stats` sums them (`core.retention.with_retained`)."""

    __tablename__ = "retained_counts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    conversations: Mapped[int] = mapped_column(Integer, default=0)
    handed_over: Mapped[int] = mapped_column(Integer, default=0)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)
    votes: Mapped[int] = mapped_column(Integer, default=0)
    thumbs_up: Mapped[int] = mapped_column(Integer, default=0)
