"""A streamed partial never overtakes an earlier reply still waiting in the outbox: on a
Telegram group or Slack the final answer edits the partial in place, so a partial posted while
the previous reply waits (rate limited, retrying) would stand above it for good."""

from __future__ import annotations

from pathlib import Path

from core.messages import Delivered
from core.reply import Reply, ReplySource
from core.streaming import RESERVED, STREAM_KEY
from infra.db.engine import make_engine, make_sessions
from infra.db.models import MessageRow
from infra.db.store import SqlStore
from tests.support.databases import migrated_sqlite
from tests.support.recording import inbound


async def test_no_stream_slot_while_an_earlier_reply_waits_then_one_once_it_is_sent(tmp_path: Path) -> None:
    engine = make_engine(migrated_sqlite(tmp_path / "s.db"))
    store = SqlStore(make_sessions(engine))
    try:
        first, _ = await store.save_inbound(inbound("hi", message_id="m1", conversation="c"))
        second, _ = await store.save_inbound(inbound("and on weekends?", message_id="m2", conversation="c"))
        other, _ = await store.save_inbound(inbound("hello", message_id="m3", conversation="elsewhere"))
        waiting = await store.record_reply(first, Reply("We open at nine.", "en", ReplySource.EXTRACTIVE))

        assert not await store.reserve_stream(second), "the first reply is still unsent"
        assert STREAM_KEY not in await _meta(store, second), "a refusal leaves no reservation behind"
        assert await store.reserve_stream(other), "another conversation is not held back"

        assert await store.mark_sending(waiting)
        assert not await store.reserve_stream(second), "being sent is not sent yet"
        await store.mark_sent(waiting, Delivered("t1"))
        assert await store.reserve_stream(second)
        assert (await _meta(store, second))[STREAM_KEY] == RESERVED
        assert not await store.reserve_stream(second), "the slot is taken once"
    finally:
        await engine.dispose()


async def _meta(store: SqlStore, message_id: int) -> dict[str, str]:
    async with store._sessions() as session:
        row = await session.get(MessageRow, message_id)
        assert row is not None
        return dict(row.meta or {})
