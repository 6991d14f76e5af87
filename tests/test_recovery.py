"""The recovery sweep: stored work whose job was lost goes back on the queue, once per sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from core.messages import Delivered
from core.recovery import UNKNOWN_OUTCOME, Recovery
from core.reply import Reply, ReplySource
from infra.db.engine import make_engine, make_sessions
from infra.db.models import MessageRow, OutboxRow
from infra.db.recovery import SqlRecoveryQueries
from infra.db.store import SqlStore
from tests.support.databases import migrated_sqlite
from tests.support.recording import inbound


class CollectingJobs:
    def __init__(self) -> None:
        self.inbound: list[int] = []
        self.deliveries: list[int] = []

    def enqueue_inbound(self, message_id: int) -> None:
        self.inbound.append(message_id)

    def enqueue_delivery(self, outbound_id: int, *, delay: float = 0.0) -> None:
        self.deliveries.append(outbound_id)


async def test_sweep_requeues_lost_jobs_and_dead_letters_unknown_sends(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "r.db")
    engine = make_engine(url)
    sessions = make_sessions(engine)
    store = SqlStore(sessions)
    lost, fresh, answered, sending = [
        (await store.save_inbound(inbound(t, message_id=t, conversation=t)))[0] for t in ("lost", "fresh", "answered", "sending")
    ]
    reply = Reply("hello", "en", ReplySource.EXTRACTIVE)
    pending_row = await store.record_reply(answered, reply)
    stuck_row = await store.record_reply(sending, reply)
    assert await store.mark_sending(stuck_row)
    old = datetime.now(UTC) - timedelta(hours=1)
    async with sessions.begin() as session:
        await session.execute(update(MessageRow).where(MessageRow.id != fresh).values(received_at=old))
        await session.execute(update(OutboxRow).values(created_at=old, sending_since=old))

    jobs = CollectingJobs()
    report = await Recovery(SqlRecoveryQueries(sessions), jobs).sweep()

    assert jobs.inbound == [lost]  # not the fresh one: its job may simply be queued
    assert jobs.deliveries == [pending_row]
    assert report.dead_lettered == 1
    row = await store.get_outbound(stuck_row)
    assert row.status == "failed" and row.last_error == UNKNOWN_OUTCOME
    assert await store.mark_sending(pending_row)
    await store.mark_sent(pending_row, Delivered("x"))
    second = await Recovery(SqlRecoveryQueries(sessions), CollectingJobs()).sweep()
    assert (second.requeued_deliveries, second.dead_lettered) == (0, 0)
    await engine.dispose()


async def test_the_periodic_sweep_answers_a_message_whose_job_was_lost(tmp_path: Path) -> None:
    """The wired system: a message stored while its job vanished is answered by the sweep job."""
    from bots.runtime import build_runtime
    from infra.settings import load_settings
    from tests.conftest import TEST_BOT
    from tests.support.recording import RecordingChannel
    from workers import jobs
    from workers.inprocess import InProcessJobs

    channel = RecordingChannel()
    settings = load_settings(database_url=migrated_sqlite(tmp_path / "s.db"), csbot_bot=TEST_BOT, llm_base_url=None)
    runtime = await build_runtime(settings, channels=[channel])
    try:
        message_id, _ = await runtime.store.save_inbound(inbound("I lost my card", message_id="lost-job"))  # no enqueue
        async with runtime.store._sessions.begin() as session:
            await session.execute(
                update(MessageRow).values(received_at=datetime.now(UTC) - timedelta(minutes=10))
            )
        assert isinstance(runtime.jobs, InProcessJobs)
        assert await jobs.sweep(runtime.services) == 1
        await runtime.jobs.drain(timeout=30)
        [reply] = channel.sent
        assert "Freeze your card" in reply.text and reply.idempotency_key == f"reply:{message_id}"
    finally:
        await runtime.close()
