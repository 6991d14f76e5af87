"""`SqlHandoffStore`: the `HandoffStore` port on SQLAlchemy.

Every state change is an `UPDATE … WHERE <expected state>` whose row count decides who won, in
the same transaction as the conversation's mode and the audit event, so the three never
disagree and two agents clicking Claim together produce exactly one owner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import NotFound
from core.feedback import RATING
from core.handoff import Handoff, HandoffEvent, HandoffState, Mode, PendingRating, mode_after
from core.records import InboundStatus, Role, StoredMessage
from core.reply import Reply, ReplySource
from infra.db.models import (
    ConversationRow,
    DeskPostRow,
    FeedbackRow,
    HandoffEventRow,
    HandoffRow,
    MessageRow,
    OutboxRow,
    now,
)
from infra.db.store import reply_key, reply_row, stored_message, without_stream

OPEN = (HandoffState.WAITING.value, HandoffState.CLAIMED.value)


def rating_key(handoff_id: int) -> str:
    return f"rating:{handoff_id}"


class SqlHandoffStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # --- opening -------------------------------------------------------------------------

    async def escalate(
        self, message_id: int, ack: Reply, *, reason: str, rule: str, suggested_reply: str, actor: str
    ) -> Handoff | None:
        try:
            async with self._sessions.begin() as session:
                message = await session.get(MessageRow, message_id)
                if message is None:
                    raise NotFound(f"message {message_id} does not exist")
                if not await _take_conversation(session, message.conversation_id, Mode.WAITING):
                    return None
                conversation = await session.get(ConversationRow, message.conversation_id)
                assert conversation is not None
                session.add(reply_row(message, conversation, ack, reply_key(message_id)))
                message.status = InboundStatus.ANSWERED.value
                message.answered_at = now()
                row = HandoffRow(
                    conversation_id=message.conversation_id,
                    state=HandoffState.WAITING.value,
                    reason=reason,
                    rule=rule,
                    suggested_reply=suggested_reply,
                    message_id=message_id,
                    created_at=now(),
                )
                session.add(row)
                await session.flush()
                session.add(HandoffEventRow(handoff_id=row.id, source="", target=row.state, actor=actor, note=reason))
                return _handoff(row)
        except IntegrityError:
            # This message was answered by an earlier run, or another handoff opened first.
            message = await self._message_row(message_id)
            return await self.open_handoff(message.conversation_id)

    async def takeover(self, conversation_id: int, *, agent_id: str, reason: str, actor: str) -> Handoff | None:
        try:
            async with self._sessions.begin() as session:
                if not await _take_conversation(session, conversation_id, Mode.CLAIMED):
                    return None
                at = now()
                row = HandoffRow(
                    conversation_id=conversation_id,
                    state=HandoffState.CLAIMED.value,
                    reason=reason,
                    rule="admin_takeover",
                    agent_id=agent_id,
                    created_at=at,
                    claimed_at=at,
                )
                session.add(row)
                await session.flush()
                session.add(HandoffEventRow(handoff_id=row.id, source="", target=row.state, actor=actor, note=reason))
                return _handoff(row)
        except IntegrityError:
            return None

    # --- moving --------------------------------------------------------------------------

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
        mode = mode_after(source, target)
        values: dict[str, Any] = {"state": target.value}
        if target is HandoffState.CLAIMED:
            values.update(agent_id=agent_id or actor, claimed_at=now())
        if target is HandoffState.RESOLVED:
            values["resolved_at"] = now()
        async with self._sessions.begin() as session:
            moved = await session.execute(
                update(HandoffRow).where(HandoffRow.id == handoff_id, HandoffRow.state == source.value).values(**values)
            )
            if moved.rowcount != 1:
                return None
            row = await session.get(HandoffRow, handoff_id, populate_existing=True)
            assert row is not None
            conversation_values: dict[str, Any] = {"mode": mode.value}
            if mode is Mode.BOT:
                conversation_values["failed_turns"] = 0
            await session.execute(
                update(ConversationRow).where(ConversationRow.id == row.conversation_id).values(**conversation_values)
            )
            session.add(HandoffEventRow(handoff_id=row.id, source=source.value, target=target.value, actor=actor, note=note))
            if rating_prompt and target is HandoffState.RESOLVED:
                rating = await _rating_row(session, row, rating_prompt)
                session.add(rating)
                await session.flush()
                row.rating_outbound_id = rating.id
                row.rating_open = True
            await session.flush()
            return _handoff(row)

    async def mark_paged(self, handoff_id: int, at: datetime) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.paged_at.is_(None), HandoffRow.state == HandoffState.WAITING.value)
                .values(paged_at=at)
            )
            return result.rowcount == 1

    async def unmark_paged(self, handoff_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(HandoffRow).where(HandoffRow.id == handoff_id).values(paged_at=None))

    async def set_desk_thread(self, handoff_id: int, thread_ts: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id, HandoffRow.desk_thread_ts == "")
                .values(desk_thread_ts=thread_ts)
            )
            return result.rowcount == 1

    # --- reading -------------------------------------------------------------------------

    async def get_handoff(self, handoff_id: int) -> Handoff:
        async with self._sessions() as session:
            row = await session.get(HandoffRow, handoff_id)
        if row is None:
            raise NotFound(f"handoff {handoff_id} does not exist")
        return _handoff(row)

    async def open_handoff(self, conversation_id: int) -> Handoff | None:
        return await self._one(
            select(HandoffRow).where(HandoffRow.conversation_id == conversation_id, HandoffRow.state.in_(OPEN))
        )

    async def handoff_by_thread(self, thread_ts: str) -> Handoff | None:
        if not thread_ts:
            return None
        return await self._one(
            select(HandoffRow).where(HandoffRow.desk_thread_ts == thread_ts).order_by(HandoffRow.id.desc()).limit(1)
        )

    async def open_handoffs(self) -> list[Handoff]:
        return await self._many(select(HandoffRow).where(HandoffRow.state.in_(OPEN)).order_by(HandoffRow.created_at))

    async def overdue_handoffs(self, created_before: datetime) -> list[Handoff]:
        return await self._many(
            select(HandoffRow)
            .where(
                HandoffRow.state == HandoffState.WAITING.value,
                HandoffRow.created_at <= created_before,
                HandoffRow.paged_at.is_(None),
            )
            .order_by(HandoffRow.id)
        )

    async def events(self, handoff_id: int) -> list[HandoffEvent]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(HandoffEventRow).where(HandoffEventRow.handoff_id == handoff_id).order_by(HandoffEventRow.id)
                )
            ).all()
        return [HandoffEvent(r.handoff_id, r.source, r.target, r.actor, r.at, r.note) for r in rows]

    # --- relaying and the desk -------------------------------------------------------------

    async def relay(self, message_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(MessageRow)
                .where(MessageRow.id == message_id, MessageRow.status == InboundStatus.RECEIVED.value)
                .values(status=InboundStatus.RELAYED.value)
            )

    async def unposted_relays(self, conversation_id: int) -> list[StoredMessage]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(MessageRow)
                    .where(MessageRow.conversation_id == conversation_id, MessageRow.status == InboundStatus.RELAYED.value)
                    .order_by(MessageRow.id)
                )
            ).all()
            if not rows:
                return []
            keys = [f"relay:{r.id}" for r in rows]
            posted = set((await session.scalars(select(DeskPostRow.key).where(DeskPostRow.key.in_(keys)))).all())
        return [stored_message(r) for r in rows if f"relay:{r.id}" not in posted]

    async def desk_post(self, key: str) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(select(DeskPostRow.ts).where(DeskPostRow.key == key))

    async def record_desk_post(self, handoff_id: int, key: str, ts: str) -> None:
        try:
            async with self._sessions.begin() as session:
                session.add(DeskPostRow(handoff_id=handoff_id, key=key, ts=ts))
        except IntegrityError:
            pass  # recorded by an earlier run; the post itself is what mattered

    async def record_agent_reply(self, conversation_id: int, text: str, *, key: str, agent_id: str) -> tuple[int, bool]:
        existing = await self._outbox_id(key)
        if existing is not None:
            return existing, False
        try:
            async with self._sessions.begin() as session:
                conversation = await session.get(ConversationRow, conversation_id)
                if conversation is None:
                    raise NotFound(f"conversation {conversation_id} does not exist")
                row = OutboxRow(
                    conversation_id=conversation_id,
                    in_reply_to=None,
                    idempotency_key=key,
                    role=Role.AGENT.value,
                    channel=conversation.channel,
                    conversation_key=conversation.conversation_key,
                    text=text,
                    language=conversation.language,
                    source="agent",
                    buttons={"items": []},
                    meta={**await _reply_meta(session, conversation_id), "agent_id": agent_id},
                )
                session.add(row)
                await session.flush()
                return row.id, True
        except IntegrityError:
            existing = await self._outbox_id(key)
            if existing is None:
                raise
            return existing, False

    # --- the rating after a handoff ----------------------------------------------------------

    async def take_pending_rating(self, conversation_id: int) -> PendingRating | None:
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(HandoffRow)
                .where(HandoffRow.conversation_id == conversation_id, HandoffRow.rating_open.is_(True))
                .order_by(HandoffRow.id.desc())
                .limit(1)
            )
            if row is None or row.rating_outbound_id is None:
                return None
            closed = await session.execute(
                update(HandoffRow).where(HandoffRow.id == row.id, HandoffRow.rating_open.is_(True)).values(rating_open=False)
            )
            if closed.rowcount != 1:
                return None
            return PendingRating(row.id, row.rating_outbound_id)

    async def record_rating(self, conversation_id: int, outbound_id: int, score: int) -> bool:
        try:
            async with self._sessions.begin() as session:
                session.add(FeedbackRow(conversation_id=conversation_id, outbound_id=outbound_id, kind=RATING, score=score))
            return True
        except IntegrityError:
            return False

    async def understanding_of(self, message_id: int) -> dict[str, Any]:
        async with self._sessions() as session:
            value = await session.scalar(select(MessageRow.understanding).where(MessageRow.id == message_id))
        return dict(value or {})

    async def last_customer_message(self, conversation_id: int) -> StoredMessage | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(MessageRow).where(MessageRow.conversation_id == conversation_id).order_by(MessageRow.id.desc()).limit(1)
            )
        return stored_message(row) if row is not None else None

    # --- helpers -------------------------------------------------------------------------

    async def _one(self, query: Any) -> Handoff | None:
        async with self._sessions() as session:
            row = await session.scalar(query)
        return _handoff(row) if row is not None else None

    async def _many(self, query: Any) -> list[Handoff]:
        async with self._sessions() as session:
            rows = (await session.scalars(query)).all()
        return [_handoff(r) for r in rows]

    async def _outbox_id(self, key: str) -> int | None:
        async with self._sessions() as session:
            return await session.scalar(select(OutboxRow.id).where(OutboxRow.idempotency_key == key))

    async def _message_row(self, message_id: int) -> StoredMessage:
        async with self._sessions() as session:
            row = await session.get(MessageRow, message_id)
        if row is None:
            raise NotFound(f"message {message_id} does not exist")
        return stored_message(row)


async def _take_conversation(session: AsyncSession, conversation_id: int, mode: Mode) -> bool:
    """Compare-and-set the conversation from the bot to a person; False if a person has it."""
    result = await session.execute(
        update(ConversationRow)
        .where(ConversationRow.id == conversation_id, ConversationRow.mode == Mode.BOT.value)
        .values(mode=mode.value, failed_turns=0)
    )
    return result.rowcount == 1


async def _reply_meta(session: AsyncSession, conversation_id: int) -> dict[str, Any]:
    """Where a reply that answers no particular message goes: as the customer's latest message
    says (a Slack thread, a Telegram chat type)."""
    meta = await session.scalar(
        select(MessageRow.meta).where(MessageRow.conversation_id == conversation_id).order_by(MessageRow.id.desc()).limit(1)
    )
    return without_stream(meta)


async def _rating_row(session: AsyncSession, handoff: HandoffRow, prompt: str) -> OutboxRow:
    conversation = await session.get(ConversationRow, handoff.conversation_id)
    assert conversation is not None
    return OutboxRow(
        conversation_id=conversation.id,
        in_reply_to=None,
        idempotency_key=rating_key(handoff.id),
        role=Role.BOT.value,
        channel=conversation.channel,
        conversation_key=conversation.conversation_key,
        text=prompt,
        language=conversation.language,
        source=ReplySource.CANNED.value,
        buttons={"items": []},
        meta=await _reply_meta(session, conversation.id),
    )


def _handoff(row: HandoffRow) -> Handoff:
    return Handoff(
        id=row.id,
        conversation_id=row.conversation_id,
        state=HandoffState(row.state),
        reason=row.reason,
        rule=row.rule or "",
        agent_id=row.agent_id or "",
        desk_thread_ts=row.desk_thread_ts or "",
        suggested_reply=row.suggested_reply or "",
        created_at=row.created_at,
        claimed_at=row.claimed_at,
        resolved_at=row.resolved_at,
        paged_at=row.paged_at,
    )
