"""The knowledge index asks the database whether documents changed at most every `stale_after`
seconds, not on every turn; a document added by another process is found once that passes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import event

from core.knowledge import Article
from core.knowledge_index import KnowledgeIndex
from infra.db.engine import make_engine, make_sessions
from infra.db.knowledge_documents import SqlKnowledgeStore
from tests.support.databases import migrated_sqlite

HOURS = Article("opening-hours", "en", "Opening hours", "Branches open Monday to Friday, 9:00 to 17:00.")
QUESTION = "do you offer student accounts"


async def test_turns_look_at_the_stamp_once_per_interval_and_then_see_new_documents(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "kb.db")
    db = make_engine(url)
    statements: list[str] = []
    event.listen(db.sync_engine, "before_cursor_execute", lambda _c, _k, sql, *_: statements.append(sql))
    try:
        store = SqlKnowledgeStore(make_sessions(db))
        admin = KnowledgeIndex("testbot", [HOURS], store)  # the process running `/csbot kb add`
        worker = KnowledgeIndex("testbot", [HOURS], store, stale_after=0.5)

        assert await worker.refresh_if_due() is True  # the first look builds from the database
        statements.clear()
        assert [await worker.refresh_if_due() for _ in range(50)] == [False] * 50
        assert statements == []  # fifty turns, not one query

        await admin.add("Do you offer student accounts?", "Yes: the Student account has no monthly fee.")
        assert admin.search(QUESTION)[0].article.title == "Do you offer student accounts?"  # at once where added
        statements.clear()
        assert await worker.refresh_if_due() is False
        assert statements == []
        assert all(p.article.source != "admin" for p in worker.search(QUESTION))

        await asyncio.sleep(0.6)
        assert await worker.refresh_if_due() is True
        assert worker.search(QUESTION)[0].article.body == "Yes: the Student account has no monthly fee."
        assert await worker.refresh() is False  # an explicit refresh always looks, and finds no change
    finally:
        await db.dispose()
