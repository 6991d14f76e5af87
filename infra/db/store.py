"""`SqlStore`: the `Store` port on SQLAlchemy. Unique constraints, not checks, decide duplicates.

The statements every message runs (intake, the turn's read and write, the send's claim and
record) are Core statements built once, on a connection of their own: no ORM unit of work,
identity map or statement construction per call, and only the columns the records need.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from collections.abc import Mapping, Sequence

from sqlalchemy import Integer, Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from core.errors import NotFound
from core.feedback import ASK_KEY, ASKED, PROMPT_KEY
from core.messages import Button, ContentKind, Delivered, InboundMessage
from core.records import (
    AnsweredTurn,
    Conversation,
    InboundStatus,
    Outbound,
    OutboxStatus,
    PendingTurn,
    Role,
    StoredMessage,
    Turn,
)
from core.reply import Reply
from core.streaming import RESERVED, STREAM_KEY
from infra.db.models import ConversationRow, MessageRow, OutboxRow, now


def reply_key(message_id: int) -> str:
    return f"reply:{message_id}"


def reply_row(message: MessageRow, conversation: ConversationRow, reply: Reply, key: str) -> OutboxRow:
    """The outbox row answering `message`; it inherits the message's metadata (where to reply),
    but never a stream reference: only the turn's own reply replaces its streamed partial."""
    return outbox_row(message.id, without_stream(message.meta), _conversation(conversation), reply, key)


def without_stream(meta: dict[str, Any] | None) -> dict[str, Any]:
    """Message metadata minus the streamed-partial reference (see `core.streaming`)."""
    return {k: v for k, v in (meta or {}).items() if k != STREAM_KEY}


def outbox_row(
    message_id: int, message_meta: dict[str, str], conversation: Conversation, reply: Reply, key: str
) -> OutboxRow:
    values = outbox_values(message_id, message_meta, conversation, reply, key)
    return OutboxRow(**{k: v for k, v in values.items() if k != "metadata"}, meta=values["metadata"])


def outbox_values(
    message_id: int, message_meta: dict[str, str], conversation: Conversation, reply: Reply, key: str
) -> dict[str, Any]:
    """The outbox row answering a message, as column values (`metadata` is its column name)."""
    return {
        "conversation_id": conversation.id,
        "in_reply_to": message_id,
        "idempotency_key": key,
        "role": Role.BOT.value,
        "channel": conversation.channel,
        "conversation_key": conversation.conversation_key,
        "text": reply.text,
        "language": reply.language,
        "source": reply.source.value,
        "buttons": {"items": [[b.label, b.value] for b in reply.buttons]},
        "metadata": {**message_meta, **feedback_meta(reply), **reply.citation_meta()},
    }


def feedback_meta(reply: Reply) -> dict[str, str]:
    if not reply.ask_feedback:
        return {}
    return {ASK_KEY: ASKED, **({PROMPT_KEY: reply.feedback_prompt} if reply.feedback_prompt else {})}


# --- the hot path's statements, built once ---------------------------------------------------

_conversations, _messages, _outbox = ConversationRow.__table__, MessageRow.__table__, OutboxRow.__table__
_RECEIVED, _ANSWERED = InboundStatus.RECEIVED.value, InboundStatus.ANSWERED.value
_PENDING, _SENDING = OutboxStatus.PENDING.value, OutboxStatus.SENDING.value

_CONVERSATION_COLUMNS = (
    _conversations.c.id, _conversations.c.channel, _conversations.c.conversation_key, _conversations.c.customer_id,
    _conversations.c.language, _conversations.c.mode, _conversations.c.failed_turns, _conversations.c.customer_name,
)
# What a `StoredMessage` holds: not the analysis (`understanding`), which no turn reads back.
_MESSAGE_COLUMNS = (
    _messages.c.id, _messages.c.conversation_id, _messages.c.channel, _messages.c.platform_message_id,
    _messages.c.text, _messages.c.kind, _messages.c.status, _messages.c.received_at, _messages.c.metadata,
)

# Intake: the message's dedupe key and its conversation, in one statement.
_FIND_INBOUND = select(
    select(_messages.c.id)
    .where(_messages.c.channel == bindparam("m_channel"), _messages.c.platform_message_id == bindparam("m_platform_id"))
    .scalar_subquery(),
    select(_conversations.c.id)
    .where(_conversations.c.channel == bindparam("c_channel"), _conversations.c.conversation_key == bindparam("c_key"))
    .scalar_subquery(),
)
_INSERT_CONVERSATION = insert(_conversations).returning(_conversations.c.id)
_INSERT_MESSAGE = insert(_messages).returning(_messages.c.id)

# The turn's read.
_CONVERSATION_OF_MESSAGE = (
    select(*_CONVERSATION_COLUMNS)
    .select_from(_conversations.join(_messages, _messages.c.conversation_id == _conversations.c.id))
    .where(_messages.c.id == bindparam("message_id"))
)
_UNANSWERED = (
    select(*_MESSAGE_COLUMNS)
    .where(_messages.c.conversation_id == bindparam("conversation_id"), _messages.c.status == _RECEIVED)
    .order_by(_messages.c.id)
    .limit(2)
)
_HISTORY_INBOUND = (
    select(_messages.c.id, _messages.c.text, _messages.c.received_at)
    .where(_messages.c.conversation_id == bindparam("conversation_id"), _messages.c.id < bindparam("before"))
    .order_by(_messages.c.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
_HISTORY_OUTBOUND = (
    select(_outbox.c.id, _outbox.c.in_reply_to, _outbox.c.role, _outbox.c.text, _outbox.c.created_at)
    .where(_outbox.c.conversation_id == bindparam("conversation_id"), _outbox.c.created_at >= bindparam("oldest"))
    .order_by(_outbox.c.id)
)

# The turn's write: the message's status is the compare-and-set.
_ANSWER = (
    update(_messages)
    .where(_messages.c.id == bindparam("message_id"), _messages.c.status == _RECEIVED)
    .values(status=_ANSWERED, answered_at=bindparam("at"), understanding=bindparam("analysis"))
)
_UNSENT = (
    select(_outbox.c.id)
    .where(_outbox.c.conversation_id == bindparam("conversation_id"), _outbox.c.status.in_((_PENDING, _SENDING)))
    .limit(1)
)
_INSERT_OUTBOX = insert(_outbox).returning(*_outbox.c)
_CONVERSATION_STATE = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(language=bindparam("new_language"), failed_turns=bindparam("new_failed_turns"))
)

# Delivery.
_OUTBOUND = select(*_outbox.c).where(_outbox.c.id == bindparam("outbound_id"))
_DUE = (
    select(*_outbox.c)
    .where(_outbox.c.conversation_id == bindparam("conversation_id"), _outbox.c.status == _PENDING)
    .order_by(_outbox.c.id)
)
_CLAIM = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("outbound_id"), _outbox.c.status == _PENDING)
    .values(status=_SENDING, sending_since=bindparam("at"))
    .returning(*_outbox.c)
)
_MARK_SENT = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("outbound_id"), _outbox.c.status == _SENDING)
    .values(status=OutboxStatus.SENT.value, platform_message_id=bindparam("sent_as"), sent_at=bindparam("at"),
            attempts=_outbox.c.attempts + 1)
)


class SqlStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine = sessions.kw["bind"]

    # --- intake --------------------------------------------------------------------------

    async def save_inbound(self, message: InboundMessage) -> tuple[int, bool]:
        """One transaction in the common case, since it runs while the platform waits for its 200.

        A concurrent delivery of the same message (or the first two messages of a new
        conversation) makes the losing insert hit a unique constraint; the transaction is
        rolled back and the lookup repeated, which then finds the winner's row.
        """
        for _ in range(3):
            try:
                async with self._engine.begin() as connection:
                    return await self._save_inbound(connection, message)
            except IntegrityError:
                continue
        raise RuntimeError(f"could not store {message.channel} message {message.platform_message_id!r}")

    async def _save_inbound(self, connection: AsyncConnection, message: InboundMessage) -> tuple[int, bool]:
        existing, conversation_id = (await connection.execute(_FIND_INBOUND, {
            "m_channel": message.channel, "m_platform_id": message.platform_message_id,
            "c_channel": message.channel, "c_key": message.conversation_key,
        })).one()
        if existing is not None:
            return existing, False
        if conversation_id is None:
            conversation_id = (await connection.execute(_INSERT_CONVERSATION, {
                "channel": message.channel, "conversation_key": message.conversation_key,
                "customer_id": message.sender_id, "customer_name": message.sender_name,
            })).scalar_one()
        message_id = (await connection.execute(_INSERT_MESSAGE, {
            "conversation_id": conversation_id, "channel": message.channel,
            "platform_message_id": message.platform_message_id, "sender_id": message.sender_id,
            "text": message.text, "kind": message.kind.value, "metadata": dict(message.metadata),
        })).scalar_one()
        return message_id, True

    async def get_message(self, message_id: int) -> StoredMessage:
        async with self._sessions() as session:
            row = await session.get(MessageRow, message_id)
        if row is None:
            raise NotFound(f"message {message_id} does not exist")
        return stored_message(row)

    async def get_conversation(self, conversation_id: int) -> Conversation:
        async with self._sessions() as session:
            row = await session.get(ConversationRow, conversation_id)
        if row is None:
            raise NotFound(f"conversation {conversation_id} does not exist")
        return _conversation(row)

    # --- turns ---------------------------------------------------------------------------

    async def pending_turn(self, message_id: int, *, history_turns: int) -> PendingTurn:
        """At most four statements in one read transaction, the lookup of the job's conversation included,
        so a turn asks the database once before the model and once after."""
        async with self._engine.begin() as connection:
            found = (await connection.execute(_CONVERSATION_OF_MESSAGE, {"message_id": message_id})).first()
            if found is None:
                raise NotFound(f"message {message_id} does not exist")
            conversation = Conversation(*found)
            unanswered = (await connection.execute(_UNANSWERED, {"conversation_id": conversation.id})).all()
            if not unanswered:
                return PendingTurn(conversation, None)
            first = stored_message(unanswered[0])
            history = await _history_of(connection, conversation.id, first.id, history_turns)
        return PendingTurn(conversation, first, tuple(history), more=len(unanswered) > 1)

    async def record_turn(self, turn: AnsweredTurn, *, claim: bool) -> Outbound | None:
        """The message's status is the compare-and-set: a turn that lost a race writes nothing.
        The conversation row is only written when its state changed."""
        message, conversation, reply = turn.message, turn.conversation, turn.reply
        try:
            async with self._engine.begin() as connection:
                answered = await connection.execute(
                    _ANSWER, {"message_id": message.id, "at": now(), "analysis": dict(turn.analysis)}
                )
                if answered.rowcount != 1:
                    return None  # nothing was written: committing the empty transaction is harmless
                values = outbox_values(message.id, message.metadata, conversation, reply, reply_key(message.id))
                if claim and (await connection.execute(_UNSENT, {"conversation_id": conversation.id})).first() is None:
                    values.update(status=_SENDING, sending_since=now())
                row = (await connection.execute(_INSERT_OUTBOX, values)).one()
                if (reply.language, turn.failed_turns) != (conversation.language, conversation.failed_turns):
                    await connection.execute(_CONVERSATION_STATE, {
                        "conversation_id": conversation.id, "new_language": reply.language,
                        "new_failed_turns": turn.failed_turns,
                    })
                return _outbound_of(row._mapping)
        except IntegrityError:
            return None  # the reply's idempotency key exists: written by another turn

    async def written_since(self, conversation_id: int, message_id: int) -> bool:
        async with self._sessions() as session:
            later = await session.scalar(
                select(MessageRow.id)
                .where(MessageRow.conversation_id == conversation_id, MessageRow.id > message_id)
                .limit(1)
            )
        return later is not None

    async def reserve_stream(self, message_id: int) -> bool:
        """`core.streaming.StreamMarks`: the reference lives in the inbound message's metadata,
        so the turn's next read of the message (a re-run after a crash) carries it. Refused while
        an earlier reply of the conversation waits in the outbox: a partial posted now would
        stand above it for good (the final answer edits the partial in place), so this answer
        then arrives whole, in its turn."""
        async with self._sessions.begin() as session:
            row = await session.get(MessageRow, message_id, with_for_update=True)
            if row is None:
                raise NotFound(f"message {message_id} does not exist")
            if STREAM_KEY in (row.meta or {}) or await _unsent_exists(session, row.conversation_id):
                return False
            row.meta = {**(row.meta or {}), STREAM_KEY: RESERVED}
        return True

    async def record_stream(self, message_id: int, ref: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(MessageRow, message_id, with_for_update=True)
            if row is None:
                raise NotFound(f"message {message_id} does not exist")
            row.meta = {**(row.meta or {}), STREAM_KEY: ref}

    async def history(self, conversation_id: int, before_message_id: int, limit: int) -> list[Turn]:
        async with self._sessions() as session:
            return await _history(session, conversation_id, before_message_id, limit)

    async def record_reply(self, message_id: int, reply: Reply) -> int:
        key = reply_key(message_id)
        try:
            async with self._sessions.begin() as session:
                existing = await session.scalar(select(OutboxRow.id).where(OutboxRow.idempotency_key == key))
                if existing is not None:
                    return existing
                message = await session.get(MessageRow, message_id)
                if message is None:
                    raise NotFound(f"message {message_id} does not exist")
                conversation = await session.get(ConversationRow, message.conversation_id)
                assert conversation is not None
                row = reply_row(message, conversation, reply, key)
                session.add(row)
                message.status = InboundStatus.ANSWERED.value
                message.answered_at = now()
                await session.flush()
                return row.id
        except IntegrityError:
            existing = await self._outbox_id(key)
            if existing is None:
                raise
            return existing

    async def _outbox_id(self, key: str) -> int | None:
        async with self._sessions() as session:
            return await session.scalar(select(OutboxRow.id).where(OutboxRow.idempotency_key == key))

    async def set_conversation_state(
        self, conversation_id: int, *, language: str | None = None, failed_turns: int | None = None
    ) -> None:
        values: dict[str, Any] = {}
        if language is not None:
            values["language"] = language
        if failed_turns is not None:
            values["failed_turns"] = failed_turns
        if not values:
            return
        async with self._sessions.begin() as session:
            await session.execute(update(ConversationRow).where(ConversationRow.id == conversation_id).values(**values))

    async def save_understanding(self, message_id: int, understanding: dict[str, Any]) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(MessageRow).where(MessageRow.id == message_id).values(understanding=dict(understanding))
            )

    # --- delivery ------------------------------------------------------------------------

    async def due_outbound(self, conversation_id: int) -> list[Outbound]:
        async with self._engine.begin() as connection:
            rows = (await connection.execute(_DUE, {"conversation_id": conversation_id})).all()
        return [_outbound_of(r._mapping) for r in rows]

    async def get_outbound(self, outbound_id: int) -> Outbound:
        async with self._engine.begin() as connection:
            row = (await connection.execute(_OUTBOUND, {"outbound_id": outbound_id})).first()
        if row is None:
            raise NotFound(f"outbound {outbound_id} does not exist")
        return _outbound_of(row._mapping)

    async def mark_sending(self, outbound_id: int) -> Outbound | None:
        """One UPDATE ... RETURNING: the claim and the row's current state in one round trip."""
        async with self._engine.begin() as connection:
            row = (await connection.execute(_CLAIM, {"outbound_id": outbound_id, "at": now()})).first()
        return _outbound_of(row._mapping) if row is not None else None

    async def mark_sent(self, outbound_id: int, delivered: Delivered) -> None:
        """sending → sent, once (a compare-and-set on the status)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                _MARK_SENT, {"outbound_id": outbound_id, "sent_as": delivered.platform_message_id, "at": now()}
            )

    async def mark_retry(self, outbound_id: int, error: str, *, delay: float) -> None:
        await self._transition(
            outbound_id,
            OutboxStatus.SENDING,
            status=OutboxStatus.PENDING.value,
            last_error=error[:2000],
            attempts=OutboxRow.attempts + 1,
            not_before=time.time() + delay,
        )

    async def mark_failed(self, outbound_id: int, reason: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == outbound_id)
                .values(status=OutboxStatus.FAILED.value, last_error=reason[:2000])
            )

    async def _transition(self, outbound_id: int, expected: OutboxStatus, **values: Any) -> bool:
        """Compare-and-set on status: only one caller moves a row out of `expected`."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == outbound_id, OutboxRow.status == expected.value)
                .values(**values)
            )
            return result.rowcount == 1


async def _history(session: AsyncSession, conversation_id: int, before_message_id: int, limit: int) -> list[Turn]:
    """The last `limit` turns before a message, oldest first (customer messages and the replies
    anchored to the message they answer)."""
    if limit <= 0:
        return []
    inbound = (
        await session.scalars(
            select(MessageRow)
            .where(MessageRow.conversation_id == conversation_id, MessageRow.id < before_message_id)
            .order_by(MessageRow.id.desc())
            .limit(limit)
        )
    ).all()
    if not inbound:
        return []
    oldest = min(m.received_at for m in inbound)
    outbound = (
        await session.scalars(
            select(OutboxRow)
            .where(OutboxRow.conversation_id == conversation_id, OutboxRow.created_at >= oldest)
            .order_by(OutboxRow.id)
        )
    ).all()
    return _interleaved(inbound, outbound, before_message_id, limit)


async def _history_of(connection: AsyncConnection, conversation_id: int, before_message_id: int,
                      limit: int) -> list[Turn]:
    """`_history` on the hot path's Core statements (the same turns, in the same order)."""
    if limit <= 0:
        return []
    params = {"conversation_id": conversation_id}
    inbound = (await connection.execute(_HISTORY_INBOUND, {**params, "before": before_message_id, "limit": limit})).all()
    if not inbound:
        return []
    oldest = min(m.received_at for m in inbound)
    outbound = (await connection.execute(_HISTORY_OUTBOUND, {**params, "oldest": oldest})).all()
    return _interleaved(inbound, outbound, before_message_id, limit)


def _interleaved(inbound: Sequence[Any], outbound: Sequence[Any], before_message_id: int, limit: int) -> list[Turn]:
    """Customer messages and the replies anchored to the message they answer, oldest first, the
    last `limit` pairs' worth; a reply to this message or a later one is not history yet. Rows are
    ORM objects or Core rows: both have the attributes read here."""
    received = {m.id: m.received_at for m in inbound}
    keyed: list[tuple[tuple[datetime, int, int], Turn]] = [
        ((m.received_at, 0, m.id), Turn(Role.CUSTOMER, m.text)) for m in inbound
    ]
    for o in outbound:
        if o.in_reply_to is not None and o.in_reply_to >= before_message_id:
            continue
        anchor = received.get(o.in_reply_to or -1, o.created_at)
        keyed.append(((anchor, 1, o.id), Turn(Role(o.role), o.text)))
    keyed.sort(key=lambda pair: pair[0])
    return [turn for _, turn in keyed][-limit * 2 :]


async def _unsent_exists(session: AsyncSession, conversation_id: int) -> bool:
    """Whether an earlier row of the conversation still waits or is being sent: a new row must
    then queue behind it rather than be sent at once."""
    waiting = await session.scalar(
        select(OutboxRow.id)
        .where(
            OutboxRow.conversation_id == conversation_id,
            OutboxRow.status.in_((OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)),
        )
        .limit(1)
    )
    return waiting is not None


def _conversation(row: ConversationRow) -> Conversation:
    return Conversation(
        id=row.id,
        channel=row.channel,
        conversation_key=row.conversation_key,
        customer_id=row.customer_id,
        language=row.language,
        mode=row.mode,
        failed_turns=row.failed_turns,
        customer_name=row.customer_name,
    )


def stored_message(row: MessageRow | Row[Any]) -> StoredMessage:
    """A message as the ORM loads it or as a hot-path Core statement reads it (`_MESSAGE_COLUMNS`):
    the same attributes, but the ORM's `meta` is the column `metadata`."""
    metadata = row.meta if isinstance(row, MessageRow) else row.metadata
    return StoredMessage(
        id=row.id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        platform_message_id=row.platform_message_id,
        text=row.text,
        kind=ContentKind(row.kind),
        status=InboundStatus(row.status),
        received_at=row.received_at,
        metadata=dict(metadata or {}),
    )


def _outbound_of(row: Mapping[str, Any]) -> Outbound:
    """An outbox row read by a Core statement (its columns by name)."""
    items = (row["buttons"] or {}).get("items", [])
    return Outbound(
        id=row["id"],
        conversation_id=row["conversation_id"],
        channel=row["channel"],
        conversation_key=row["conversation_key"],
        text=row["text"],
        idempotency_key=row["idempotency_key"],
        language=row["language"],
        status=OutboxStatus(row["status"]),
        attempts=row["attempts"],
        buttons=tuple(Button(label, value) for label, value in items),
        last_error=row["last_error"],
        not_before=row["not_before"],
        metadata=dict(row["metadata"] or {}),
    )
