"""What one message costs the database, end to end: intake → turn → delivery.

SQLAlchemy's own events count every transaction begun and every statement sent, on SQLite and
on PostgreSQL, for a customer message in a new conversation and for a follow-up (which reads
history). The budgets sit just above what the hot path needs, so a duplicate read, a poll per
turn or a write split in two fails here instead of slowing production down unnoticed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from infra.db.models import MessageRow, OutboxRow
from tests.conftest import TEST_BOT
from tests.fakes.llm_server import FakeLLMServer
from tests.support.databases import migrated_sqlite
from tests.support.recording import RecordingChannel, inbound
from workers import jobs as job_bodies

# Intake 1; the turn reads once and writes once (reply, analysis, conversation state and the
# claim of the outbox row); the send is marked in one more.
MAX_TRANSACTIONS = 4
MAX_STATEMENTS = 12


@dataclass
class QueuedJobs:
    """A `JobQueue` that keeps what was enqueued, so the test runs each job and sees its cost."""

    queued: list[tuple[str, int]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # every job kind ever enqueued

    def enqueue_inbound(self, message_id: int) -> None:
        self.queued.append(("inbound", message_id))
        self.seen.append("inbound")

    def enqueue_delivery(self, outbound_id: int, *, delay: float = 0.0) -> None:
        self.queued.append(("deliver", outbound_id))
        self.seen.append("deliver")

    def enqueue_desk(self, handoff_id: int, *, delay: float = 0.0) -> None:
        self.queued.append(("desk", handoff_id))

    def enqueue_admin(self, audit_id: int) -> None:
        self.queued.append(("admin", audit_id))


@dataclass
class Tally:
    """Transactions begun, commits and statements, by stage of the message's way through."""

    transactions: Counter[str] = field(default_factory=Counter)
    commits: Counter[str] = field(default_factory=Counter)
    statements: Counter[str] = field(default_factory=Counter)
    sql: list[str] = field(default_factory=list)
    stage: str = "idle"

    def attach(self, engine: Any) -> None:
        event.listen(engine, "begin", lambda _conn: self.transactions.update([self.stage]))
        event.listen(engine, "commit", lambda _conn: self.commits.update([self.stage]))
        event.listen(engine, "before_cursor_execute", self._statement)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.update([self.stage])
        self.sql.append(f"{self.stage}: {' '.join(statement.split())[:140]}")

    def reset(self) -> None:
        self.transactions.clear()
        self.commits.clear()
        self.statements.clear()
        self.sql.clear()

    def report(self) -> str:
        stages = sorted(set(self.transactions) | set(self.statements))
        lines = [f"{s}: {self.transactions[s]} transactions, {self.statements[s]} statements" for s in stages]
        return "\n".join([*lines, *self.sql])


@dataclass
class System:
    runtime: Any
    jobs: QueuedJobs
    channel: RecordingChannel
    tally: Tally

    async def message(self, text: str, *, message_id: str, conversation: str) -> None:
        """One message all the way: accepted, then every job it causes, run to the end."""
        self.tally.stage = "intake"
        await self.runtime.services.intake.accept(inbound(text, message_id=message_id, conversation=conversation))
        while self.jobs.queued:
            kind, ident = self.jobs.queued.pop(0)
            self.tally.stage = kind
            if kind == "inbound":
                await job_bodies.process_inbound(self.runtime.services, ident)
            elif kind == "deliver":
                await job_bodies.deliver(self.runtime.services, ident)
            else:
                raise AssertionError(f"a plain answer enqueued {kind} {ident}")
        self.tally.stage = "idle"


@pytest.fixture
async def system(
    backend: str, tmp_path: Path, fake_llm: FakeLLMServer, request: pytest.FixtureRequest
) -> AsyncIterator[System]:
    from bots.runtime import build_runtime
    from infra.settings import load_settings

    if backend == "sqlite":
        url = migrated_sqlite(tmp_path / "csbot.db")
    else:
        url = request.getfixturevalue("clean_postgres")
    settings = load_settings(database_url=url, redis_url=None, csbot_bot=TEST_BOT, llm_base_url=fake_llm.url)
    channel, queue, tally = RecordingChannel(), QueuedJobs(), Tally()
    runtime = await build_runtime(settings, channels=[channel], jobs=queue)
    tally.attach(runtime.db.sync_engine)
    try:
        yield System(runtime, queue, channel, tally)
    finally:
        await runtime.close()


async def test_a_message_costs_at_most_four_transactions_end_to_end(system: System) -> None:
    # A first message warms what any process warms once (connections, the knowledge index).
    await system.message("When are your branches open?", message_id="warm", conversation="warm")
    measured = []
    for message_id, text in (("new", "When are your branches open?"), ("follow-up", "and on Saturday?")):
        system.tally.reset()
        await system.message(text, message_id=message_id, conversation="c1")
        tally = system.tally
        measured.append((message_id, sum(tally.transactions.values()), sum(tally.statements.values())))
        assert sum(tally.transactions.values()) <= MAX_TRANSACTIONS, tally.report()
        assert sum(tally.statements.values()) <= MAX_STATEMENTS, tally.report()
        assert tally.transactions["intake"] == 1, tally.report()
    print("per message (transactions, statements):", measured)

    assert len(system.channel.sent) == 3
    assert system.jobs.seen == ["inbound"] * 3  # each reply went out from its turn's job
    assert all("Monday to Friday" in m.text for m in system.channel.sent)
    async with system.runtime.store._sessions() as session:
        outbox = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
        messages = (await session.scalars(select(MessageRow).order_by(MessageRow.id))).all()
    assert [r.status for r in outbox] == ["sent"] * 3
    assert [m.status for m in messages] == ["answered"] * 3
    assert all(m.understanding for m in messages)  # the analysis was written with the reply


async def test_jobs_racing_for_one_conversation_answer_each_message_once_and_ask_the_model_once(
    system: System, fake_llm: FakeLLMServer
) -> None:
    """A job that had to wait for the conversation's lock reads again before answering: what it
    read first may have been answered meanwhile, and a stale read would cost a second generation."""
    from tests.fakes.llm_server import Behaviour

    fake_llm.then(Behaviour(delay=0.5), Behaviour(delay=0.5))
    intake = system.runtime.services.intake
    questions = [inbound(f"#{n} when are your branches open?", message_id=f"r{n}", conversation="c1") for n in (1, 2)]
    ids = [(await intake.accept(question)).message_id for question in questions]
    system.jobs.queued.clear()
    turns = system.runtime.services.turns
    written = await asyncio.gather(turns.process(ids[1]), turns.process(ids[0]), turns.process(ids[1]))

    assert sorted(written) == [0, 0, 2]  # one job drained both; the others found them answered
    assert len(fake_llm.requests) == 2
    assert [m.text.split()[0] for m in system.channel.sent] == ["#1", "#2"]
    async with system.runtime.store._sessions() as session:
        outbox = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
    assert [(r.in_reply_to, r.status) for r in outbox] == [(ids[0], "sent"), (ids[1], "sent")]
