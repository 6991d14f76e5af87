"""Database faults: what passes is typed `TransientStoreError` in one place and retried by the jobs;
a reply is sent once and marked sent however the connections die around it.

The PostgreSQL tests run the real driver, a real Celery worker and real faults: backends killed
with `pg_terminate_backend` while a job is inside a turn or a delivery, and SQLSTATEs raised by
the server itself (a trigger raising 40001 makes the outage last as long as the test needs).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from core.delivery import RECORD_ATTEMPTS, Delivery
from core.errors import SentNotRecorded, TransientStoreError
from core.messages import Delivered
from core.records import OutboxStatus
from core.reply import Reply, ReplySource
from infra.db.engine import make_engine, make_sessions
from infra.db.faults import classify
from infra.db.store import SqlStore
from infra.locks import MemoryLocks
from tests.conftest import Pipeline, run_in_thread
from tests.fakes.llm_server import Behaviour, FakeLLMServer
from tests.support.databases import migrated_sqlite
from tests.support.pg_faults import terminate_connections
from tests.support.recording import RecordingChannel, inbound

# --- one place decides what is retryable ----------------------------------------------------


@pytest.mark.parametrize(("sqlstate", "reason"), [("40001", "serialization failure"), ("40P01", "deadlock detected")])
async def test_postgres_aborts_that_pass_are_transient(clean_postgres: str, sqlstate: str, reason: str) -> None:
    engine = make_engine(clean_postgres)
    try:
        with pytest.raises(TransientStoreError) as raised:
            async with engine.begin() as conn:
                await conn.execute(text(f"DO $$ BEGIN RAISE EXCEPTION 'aborted' USING ERRCODE = '{sqlstate}'; END $$"))
    finally:
        await engine.dispose()
    assert raised.value.sqlstate == sqlstate and raised.value.reason == reason


async def test_errors_that_do_not_pass_keep_their_type(clean_postgres: str) -> None:
    engine = make_engine(clean_postgres)
    try:
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("DO $$ BEGIN RAISE EXCEPTION 'dup' USING ERRCODE = '23505'; END $$"))
        with pytest.raises(ProgrammingError):
            async with engine.begin() as conn:
                await conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        await engine.dispose()


async def test_a_killed_connection_is_transient_and_the_next_call_reconnects(clean_postgres: str) -> None:
    engine = make_engine(clean_postgres)
    store = SqlStore(make_sessions(engine))
    try:
        message_id, _ = await store.save_inbound(inbound("hello", message_id="k1"))  # a pooled connection now
        assert terminate_connections(clean_postgres) >= 1
        with pytest.raises(TransientStoreError) as raised:
            await store.get_message(message_id)
        assert raised.value.reason == "connection lost"
        assert (await store.get_message(message_id)).text == "hello"
    finally:
        await engine.dispose()


def test_a_locked_sqlite_file_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            sqlite3.connect(path, timeout=0).execute("SELECT * FROM t")
    finally:
        holder.close()
    transient = classify(raised.value)
    assert transient is not None and transient.reason == "database is locked"
    assert classify(sqlite3.OperationalError("no such table: t")) is None


# --- a send that went through is recorded, never repeated ------------------------------------


class ForgetfulStore(SqlStore):
    """A store whose `mark_sent` fails the first `failures` times, as a database that went away."""

    def __init__(self, *args: Any, failures: int) -> None:
        super().__init__(*args)
        self.failures = failures

    async def mark_sent(self, outbound_id: int, delivered: Delivered) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise TransientStoreError("connection lost")
        await super().mark_sent(outbound_id, delivered)


class ClaimLosingStore(SqlStore):
    """A store whose first `mark_sending` loses the connection, after committing or before."""

    def __init__(self, *args: Any, committed: bool) -> None:
        super().__init__(*args)
        self.committed = committed
        self.lost = False

    async def mark_sending(self, outbound_id: int) -> bool:
        if self.lost:
            return await super().mark_sending(outbound_id)
        self.lost = True
        if self.committed:
            await super().mark_sending(outbound_id)
        raise TransientStoreError("connection lost")


class NoJobs:
    def enqueue_delivery(self, outbound_id: int, *, delay: float = 0.0) -> None:
        raise AssertionError(f"outbound {outbound_id} was rescheduled")


async def one_reply(tmp_path: Path, failures: int) -> tuple[ForgetfulStore, Delivery, RecordingChannel, int, Any]:
    url = migrated_sqlite(tmp_path / "d.db")
    engine = make_engine(url)
    store = ForgetfulStore(make_sessions(engine), failures=failures)
    message_id, _ = await store.save_inbound(inbound("hi", message_id="d1"))
    outbound_id = await store.record_reply(message_id, Reply("hello", "en", ReplySource.EXTRACTIVE))
    channel = RecordingChannel()
    delivery = Delivery(store, NoJobs(), MemoryLocks(), {channel.name: channel})  # type: ignore[arg-type]
    return store, delivery, channel, outbound_id, engine


async def test_mark_sent_is_retried_in_place_after_the_send(tmp_path: Path) -> None:
    store, delivery, channel, outbound_id, engine = await one_reply(tmp_path, failures=RECORD_ATTEMPTS - 1)
    try:
        assert await delivery.deliver(outbound_id) == 1
        row = await store.get_outbound(outbound_id)
    finally:
        await engine.dispose()
    assert len(channel.sent) == 1 and row.status == OutboxStatus.SENT


async def test_a_send_the_database_missed_is_recorded_by_the_retry_not_resent(tmp_path: Path) -> None:
    store, delivery, channel, outbound_id, engine = await one_reply(tmp_path, failures=RECORD_ATTEMPTS)
    try:
        with pytest.raises(SentNotRecorded) as raised:
            await delivery.deliver(outbound_id)
        assert (await store.get_outbound(outbound_id)).status == OutboxStatus.SENDING
        receipt = Delivered(raised.value.platform_message_id)
        assert await delivery.deliver(outbound_id, receipt=receipt) == 0
        row = await store.get_outbound(outbound_id)
    finally:
        await engine.dispose()
    assert raised.value.outbound_id == outbound_id and receipt.platform_message_id == f"test-{outbound_id}"
    assert len(channel.sent) == 1 and row.status == OutboxStatus.SENT


@pytest.mark.parametrize("committed", [True, False], ids=["claim-committed", "claim-lost"])
async def test_a_claim_whose_answer_was_lost_is_sent_once(tmp_path: Path, committed: bool) -> None:
    url = migrated_sqlite(tmp_path / "c.db")
    engine = make_engine(url)
    store = ClaimLosingStore(make_sessions(engine), committed=committed)
    try:
        message_id, _ = await store.save_inbound(inbound("hi", message_id="c1"))
        outbound_id = await store.record_reply(message_id, Reply("hello", "en", ReplySource.EXTRACTIVE))
        channel = RecordingChannel()
        delivery = Delivery(store, NoJobs(), MemoryLocks(), {channel.name: channel})  # type: ignore[arg-type]
        assert await delivery.deliver(outbound_id) == 1
        row = await store.get_outbound(outbound_id)
    finally:
        await engine.dispose()
    assert store.lost and len(channel.sent) == 1 and row.status == OutboxStatus.SENT


async def test_the_in_process_runner_hands_the_receipt_to_its_retry(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from workers.inprocess import InProcessJobs

    store, delivery, channel, outbound_id, engine = await one_reply(tmp_path, failures=RECORD_ATTEMPTS)
    jobs = InProcessJobs()
    jobs.bind(SimpleNamespace(delivery=delivery))  # type: ignore[arg-type]
    try:
        jobs.enqueue_delivery(outbound_id)
        await jobs.drain(timeout=30)
        row = await store.get_outbound(outbound_id)
    finally:
        await engine.dispose()
    assert len(channel.sent) == 1 and row.status == OutboxStatus.SENT and store.failures == 0


# --- the whole system, connections killed under the running jobs -----------------------------


async def fetch(database_url: str, sql: str) -> list[asyncpg.Record]:
    """Read with a connection of our own: the runtime's pooled ones were killed too."""
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


async def settled_outbox(database_url: str, count: int, timeout: float = 60.0) -> list[asyncpg.Record]:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        rows = await fetch(database_url, "SELECT id, in_reply_to, status, platform_message_id FROM outbox ORDER BY id")
        if (len(rows) >= count and all(r["status"] in ("sent", "failed") for r in rows)) or loop.time() > end:
            return rows
        await asyncio.sleep(0.2)


def retried_for_the_database() -> list[str]:
    """Start counting the Celery retries a `TransientStoreError` caused."""
    from celery.signals import task_retry

    seen: list[str] = []

    def count(sender: Any = None, reason: Any = None, **_: Any) -> None:
        if isinstance(getattr(reason, "exc", None), TransientStoreError):  # reason: celery's Retry
            seen.append(sender.name)

    task_retry.connect(count, weak=False)
    return seen


def receipts_delivered() -> list[str]:
    """Start collecting the receipts that delivery jobs were handed to record (`sent_as`)."""
    from celery.signals import task_prerun

    seen: list[str] = []

    def note(sender: Any = None, kwargs: Any = None, **_: Any) -> None:
        if getattr(sender, "name", "") == "csbot.deliver" and (kwargs or {}).get("sent_as"):
            seen.append(kwargs["sent_as"])

    task_prerun.connect(note, weak=False)
    return seen


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize("record_attempts", [RECORD_ATTEMPTS, 1], ids=["recorded-in-place", "recorded-by-task-retry"])
async def test_connections_killed_mid_turn_and_mid_delivery_lose_and_repeat_nothing(
    pipeline: Pipeline, fake_llm: FakeLLMServer, clean_postgres: str, record_attempts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With one attempt, a send whose mark_sent meets a dead connection goes back to Celery with its receipt.
    monkeypatch.setattr("core.delivery.RECORD_ATTEMPTS", record_attempts)
    all_in = threading.Event()
    kills: list[int] = []

    def kill() -> None:
        kills.append(terminate_connections(clean_postgres))

    def kill_mid_turn() -> None:
        all_in.wait(10)  # the test's own intake connections die too: submit everything first
        kill()

    fake_llm.then(Behaviour(before=kill_mid_turn), Behaviour(), Behaviour(), Behaviour(before=kill))
    pipeline.channel.after_send.extend([lambda: None, kill, lambda: None, kill])
    retries = retried_for_the_database()
    questions = [("a", "#1 I lost my card"), ("b", "#2 when are you open?"), ("a", "#3 when are you open?"),
                 ("b", "#4 I lost my card"), ("a", "#5 I lost my card"), ("b", "#6 when are you open?")]
    ids = [(await pipeline.submit(q, message_id=f"m{i}", conversation=c)).message_id for i, (c, q) in enumerate(questions)]
    all_in.set()

    await pipeline.wait_sent(6, timeout=90)
    rows = await settled_outbox(clean_postgres, 6)
    await asyncio.sleep(1.5)  # a wrongly repeated send has time to show itself

    # Every kill ran; one that lands just after another may find no connection open yet.
    assert len(kills) == 4 and sum(k >= 1 for k in kills) >= 3, kills
    assert "csbot.process_inbound" in retries, retries  # the killed turn failed, typed, and was retried
    sent = pipeline.channel.sent
    assert sorted(m.idempotency_key for m in sent) == sorted(f"reply:{i}" for i in ids)  # 0 lost, 0 duplicated
    assert [(r["status"], r["platform_message_id"]) for r in rows] == [("sent", f"test-{r['id']}") for r in rows]
    for conversation in ("a", "b"):
        tags = [m.text.split()[0] for m in sent if m.conversation_key == conversation]
        assert tags == sorted(tags), tags  # order within each conversation held
    stuck = await fetch(clean_postgres, "SELECT id FROM outbox WHERE status = 'sending' UNION SELECT id FROM messages WHERE status <> 'answered'")
    assert stuck == []


MARK_SENT_FAULTS = """
CREATE SEQUENCE mark_sent_faults;
CREATE FUNCTION refuse_mark_sent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'sent' AND nextval('mark_sent_faults') <= {failures} THEN
        RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_mark_sent BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_mark_sent();
"""
UNDO_MARK_SENT_FAULTS = """
DROP TRIGGER IF EXISTS refuse_mark_sent ON outbox;
DROP FUNCTION IF EXISTS refuse_mark_sent();
DROP SEQUENCE IF EXISTS mark_sent_faults;
"""


@pytest.fixture
def mark_sent_refused(clean_postgres: str) -> Any:
    """PostgreSQL refuses the first RECORD_ATTEMPTS + 1 `mark_sent` updates: longer than one run retries."""

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(clean_postgres.replace("+asyncpg", ""))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_in_thread(execute(MARK_SENT_FAULTS.format(failures=RECORD_ATTEMPTS + 1)))
    try:
        yield
    finally:
        run_in_thread(execute(UNDO_MARK_SENT_FAULTS))


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_send_the_database_refused_to_record_is_marked_sent_by_the_task_retry(
    pipeline: Pipeline, clean_postgres: str, mark_sent_refused: None
) -> None:
    receipts = receipts_delivered()
    await pipeline.submit("I lost my card", message_id="r1")
    await pipeline.wait_sent(1)
    [row] = await settled_outbox(clean_postgres, 1, timeout=60)
    await asyncio.sleep(1.5)
    [[refused]] = await fetch(clean_postgres, "SELECT last_value FROM mark_sent_faults")

    assert refused >= RECORD_ATTEMPTS + 1  # the first run gave up and handed its receipt on
    assert row["platform_message_id"] in receipts  # a delivery job recorded it, without sending again
    assert len(pipeline.channel.sent) == 1
    assert (row["status"], row["platform_message_id"]) == ("sent", f"test-{row['id']}")
