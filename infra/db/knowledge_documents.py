"""`SqlKnowledgeStore`: knowledge documents added at run time (`/csbot kb add`)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.knowledge import Article
from infra.db.models import KnowledgeDocumentRow

ACTIVE = "active"


class SqlKnowledgeStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

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
