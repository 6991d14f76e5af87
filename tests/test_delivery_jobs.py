"""Delivery jobs: each outbox row gets the jobs it needs, not one more per turn behind it.

A reply the platform rate-limited waits for its retry time with a job scheduled for then; the
replies written behind it wait too (order), and their drain must not schedule the waiting row
again. Real store (SQLite and PostgreSQL), a recording channel that refuses once, and a queue
that keeps every job enqueued so the test runs them one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.errors import RateLimited
from core.records import OutboxStatus
from tests.conftest import TEST_BOT
from tests.fakes.llm_server import FakeLLMServer
from tests.support.recording import NAME, RecordingChannel, inbound
from workers import jobs as job_bodies


@dataclass
class Jobs:
    """Keeps every job: those due now in `queued`, those with a delay (a retry's) in `later`."""

    queued: list[tuple[str, int]] = field(default_factory=list)
    later: list[tuple[str, int, float]] = field(default_factory=list)
    deliveries: Counter[int] = field(default_factory=Counter)  # jobs ever enqueued, per outbox row

    def enqueue_inbound(self, message_id: int) -> None:
        self.queued.append(("inbound", message_id))

    def enqueue_delivery(self, outbound_id: int, *, delay: float = 0.0) -> None:
        self.deliveries[outbound_id] += 1
        if delay > 0:
            self.later.append(("deliver", outbound_id, delay))
        else:
            self.queued.append(("deliver", outbound_id))

    def enqueue_desk(self, handoff_id: int, *, delay: float = 0.0) -> None:
        raise AssertionError("no handoff here")

    def enqueue_admin(self, audit_id: int) -> None:
        raise AssertionError("no admin command here")


@pytest.fixture
async def runtime(backend: str, tmp_path: Path, fake_llm: FakeLLMServer, request: pytest.FixtureRequest) -> AsyncIterator:
    from bots.runtime import build_runtime
    from infra.settings import load_settings

    url = f"sqlite+aiosqlite:///{tmp_path}/csbot.db" if backend == "sqlite" else request.getfixturevalue("clean_postgres")
    settings = load_settings(database_url=url, redis_url=None, csbot_bot=TEST_BOT, llm_base_url=fake_llm.url)
    built = await build_runtime(settings, channels=[RecordingChannel()], jobs=Jobs())
    try:
        yield built
    finally:
        await built.close()


async def run_queued(runtime, kinds: tuple[str, ...] = ("inbound", "deliver")) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """Run every queued job of these kinds (and what they enqueue); returns what was run."""
    queue: Jobs = runtime.jobs
    ran = []
    while queue.queued:
        kind, ident = queue.queued.pop(0)
        assert kind in kinds, f"unexpected job {kind} {ident}"
        ran.append((kind, ident))
        if kind == "inbound":
            await job_bodies.process_inbound(runtime.services, ident)
        else:
            await job_bodies.deliver(runtime.services, ident)
    return ran


async def test_replies_behind_a_rate_limited_one_do_not_schedule_it_again(runtime) -> None:  # type: ignore[no-untyped-def]
    channel: RecordingChannel = runtime.channels[NAME]
    queue: Jobs = runtime.jobs
    channel.failures.append(RateLimited(NAME, retry_after=30))
    accepted = await runtime.services.intake.accept(inbound("When are your branches open?", message_id="m1", conversation="c1"))
    await run_queued(runtime)
    conversation = (await runtime.store.get_message(accepted.message_id)).conversation_id
    first = (await runtime.store.due_outbound(conversation))[0]
    assert not channel.sent and queue.later == [("deliver", first.id, 30)]  # refused; its retry scheduled

    for n in (2, 3):
        await runtime.services.intake.accept(inbound(f"and on Saturday? ({n})", message_id=f"m{n}", conversation="c1"))
        ran = await run_queued(runtime)
        assert ("deliver", first.id) not in ran  # the retry's job waits for its time (not run here)

    assert queue.deliveries[first.id] == 1, f"the waiting reply got {queue.deliveries[first.id]} delivery jobs"
    rows = await runtime.store.due_outbound(conversation)
    assert [r.status for r in rows] == [OutboxStatus.PENDING] * 3 and not channel.sent  # order kept: nothing overtook

    kind, ident, _ = queue.later.pop(0)  # the retry's time has come (as far as the row knows, not yet: early)
    await job_bodies.deliver(runtime.services, ident)
    assert [(k, i) for k, i, _ in queue.later] == [("deliver", first.id)]  # an early run schedules itself again
