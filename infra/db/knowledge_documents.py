"""`SqlKnowledgeStore`: knowledge documents added at run time (`/csbot kb add`, approved agent
answers), and the agent answers suggested on resolve (`KnowledgeSuggestionStore`).

Only "active" documents are searched; a suggestion is a "suggested" row, made "active" or
"rejected" by an admin with a compare-and-set. The unique `handoff_id` makes the suggestion of
a handoff exist at most once, however often or concurrently it is resolved.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.desk import SUGGESTED_REPLY_KEY
from core.errors import NotFound
from core.knowledge import Article
from core.knowledge_suggestions import (
    ACTIVE,
    SOURCE,
    SUGGESTED,
    HandoffExchange,
    Suggestion,
    SuggestionDecided,
    UnknownSuggestion,
)
from core.records import InboundStatus, OutboxStatus, Role
from infra.db.models import (
    ConversationRow,
    HandoffRow,
    KnowledgeDocumentRow,
    MessageRow,
    OutboxRow,
    now,
)



class SqlKnowledgeStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # --- searchable knowledge ------------------------------------------------------------------

    async def knowledge_documents(self, bot: str) -> list[Article]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(KnowledgeDocumentRow)
                    .where(KnowledgeDocumentRow.bot == bot, KnowledgeDocumentRow.status == ACTIVE)
                    .order_by(KnowledgeDocumentRow.id)
                )
            ).all()
        return [
            Article(slug=r.slug, language=r.language, title=r.title, body=r.body, questions=(r.title,), source=r.source)
            for r in rows
        ]

    async def knowledge_stamp(self, bot: str) -> tuple[int, int]:
        # An approval turns a suggestion active: the count goes up, so the stamp changes even
        # when the approved document is older than the newest one.
        async with self._sessions() as session:
            count, newest = (
                await session.execute(
                    select(func.count(KnowledgeDocumentRow.id), func.max(KnowledgeDocumentRow.id)).where(
                        KnowledgeDocumentRow.bot == bot, KnowledgeDocumentRow.status == ACTIVE
                    )
                )
            ).one()
        return int(count or 0), int(newest or 0)

    async def add_knowledge(self, bot: str, *, title: str, body: str, language: str) -> int:
        async with self._sessions.begin() as session:
            row = KnowledgeDocumentRow(bot=bot, slug="", language=language, title=title, body=body, source="admin")
            session.add(row)
            await session.flush()
            row.slug = f"kb-{row.id}"
            return row.id

    # --- suggestions from handoffs --------------------------------------------------------------

    async def handoff_exchange(self, handoff_id: int) -> HandoffExchange:
        async with self._sessions() as session:
            handoff = await session.get(HandoffRow, handoff_id)
            if handoff is None:
                raise NotFound(f"handoff {handoff_id} does not exist")
            conversation = await session.get(ConversationRow, handoff.conversation_id)
            assert conversation is not None  # the foreign key cascades
            until = handoff.resolved_at or now()
            answers = (
                await session.execute(
                    select(OutboxRow.text, OutboxRow.created_at)
                    .where(
                        OutboxRow.conversation_id == handoff.conversation_id,
                        OutboxRow.role == Role.AGENT.value,
                        OutboxRow.created_at >= handoff.created_at,
                        OutboxRow.created_at <= until,
                        OutboxRow.status != OutboxStatus.FAILED.value,  # never reached the customer
                        # The bot's own suggestion, sent by the agent, is in the knowledge base already.
                        OutboxRow.idempotency_key.not_like(f"{SUGGESTED_REPLY_KEY}%"),
                    )
                    .order_by(OutboxRow.id)
                )
            ).all()
            first_answer = answers[0].created_at if answers else until
            opening = await self._opening(session, handoff)
            follow_ups = select(MessageRow).where(
                MessageRow.conversation_id == handoff.conversation_id,
                MessageRow.status == InboundStatus.RELAYED.value,
                MessageRow.received_at <= first_answer,
            )
            if opening is not None:
                follow_ups = follow_ups.where(MessageRow.id > opening.id)
            else:
                follow_ups = follow_ups.where(MessageRow.received_at >= handoff.created_at)
            asked = [opening] if opening is not None else []
            asked += (await session.scalars(follow_ups.order_by(MessageRow.id))).all()
        return HandoffExchange(
            handoff_id=handoff.id,
            customer_name=conversation.customer_name or "",
            customer_id=conversation.customer_id or "",
            questions=tuple(m.text for m in asked if m.text.strip()),
            answers=tuple(a.text for a in answers if a.text.strip()),
        )

    async def _opening(self, session: AsyncSession, handoff: HandoffRow) -> MessageRow | None:
        """The message that opened the handoff; for an admin's takeover, which no message
        opened, the customer's last message before it (what the admin saw and acted on)."""
        if handoff.message_id is not None:
            return await session.get(MessageRow, handoff.message_id)
        return await session.scalar(
            select(MessageRow)
            .where(MessageRow.conversation_id == handoff.conversation_id, MessageRow.received_at <= handoff.created_at)
            .order_by(MessageRow.id.desc())
            .limit(1)
        )

    async def suggest_knowledge(self, bot: str, handoff_id: int, *, title: str, body: str, language: str) -> int | None:
        try:
            async with self._sessions.begin() as session:
                existing = await session.scalar(
                    select(KnowledgeDocumentRow.id).where(KnowledgeDocumentRow.handoff_id == handoff_id)
                )
                if existing is not None:
                    return None
                row = KnowledgeDocumentRow(
                    bot=bot, slug=f"handoff-{handoff_id}", language=language, title=title, body=body, source=SOURCE,
                    status=SUGGESTED, handoff_id=handoff_id,
                )
                session.add(row)
                await session.flush()
                return row.id
        except IntegrityError:
            return None  # a concurrent resolve stored it first: one suggestion per handoff

    async def knowledge_suggestions(self, bot: str) -> list[Suggestion]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(KnowledgeDocumentRow)
                    .where(KnowledgeDocumentRow.bot == bot, KnowledgeDocumentRow.status == SUGGESTED)
                    .order_by(KnowledgeDocumentRow.id)
                )
            ).all()
        return [_suggestion(r) for r in rows]

    async def decide_suggestion(self, bot: str, document_id: int, status: str) -> Suggestion:
        async with self._sessions.begin() as session:
            moved = await session.execute(
                update(KnowledgeDocumentRow)
                .where(
                    KnowledgeDocumentRow.id == document_id,
                    KnowledgeDocumentRow.bot == bot,
                    KnowledgeDocumentRow.source == SOURCE,
                    KnowledgeDocumentRow.status == SUGGESTED,
                )
                .values(status=status)
            )
            row = await session.get(KnowledgeDocumentRow, document_id, populate_existing=True)
            if row is None or row.bot != bot or row.source != SOURCE:
                raise UnknownSuggestion(document_id)
            if moved.rowcount != 1:
                raise SuggestionDecided(document_id, row.status)
            return _suggestion(row)


def _suggestion(row: KnowledgeDocumentRow) -> Suggestion:
    return Suggestion(
        id=row.id,
        handoff_id=row.handoff_id,
        question=row.title,
        answer=row.body,
        language=row.language,
        status=row.status,
        created_at=row.created_at,
    )
