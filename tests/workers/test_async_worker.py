"""One `csbot worker` process holds many turns at once on its shared loop, within its cap.

A real worker process (the exact pool `csbot worker` runs) against real Redis and PostgreSQL,
and a fake LLM server slow enough that every turn overlaps the others; the fake server counts
the generations it is answering at once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from bots.runtime import build_runtime
from infra.settings import load_settings
from tests.conftest import TEST_BOT
from tests.fakes.llm_server import Behaviour, FakeLLMServer
from tests.support.recording import inbound
from tests.support.worker_main import sent_key
from tests.support.worker_process import start_worker, stop_worker, wait_until, worker_env

pytestmark = pytest.mark.slow

SLOW = 1.5  # seconds per generation: under the test bot's 2 s LLM timeout


@dataclass
class Stack:
    """The intake side in this process and a worker process, sharing PostgreSQL and Redis."""

    runtime: Any
    sent: redis.Redis
    env: dict[str, str]
    log: Path
    key: str

    async def submit(self, text: str, *, message_id: str, conversation: str) -> None:
        await self.runtime.services.intake.accept(inbound(text, message_id=message_id, conversation=conversation, channel="test"))

    def replies(self) -> list[tuple[str, str, str]]:
        """(idempotency key, text, conversation) of every send, in send order."""
        rows = [r.decode().split("|") for r in self.sent.lrange(self.key, 0, -1)]
        return [(r[0], r[1], r[2]) for r in rows]

    def wait_replies(self, count: int, timeout: float) -> list[tuple[str, str, str]]:
        wait_until(lambda: self.sent.llen(self.key) >= count, timeout, f"{count} replies (log: {self.log})")
        time.sleep(2)  # a duplicate would show up now
        return self.replies()


@pytest.fixture
async def stack(clean_postgres: str, clean_redis: str, fake_llm: FakeLLMServer, tmp_path: Path) -> AsyncIterator[Stack]:
    settings = load_settings(database_url=clean_postgres, redis_url=clean_redis, csbot_bot=TEST_BOT, llm_base_url=fake_llm.url)
    runtime = await build_runtime(settings, migrate=False)
    sent = redis.Redis.from_url(clean_redis)
    env = worker_env(clean_postgres, clean_redis, fake_llm.url, TEST_BOT)
    try:
        yield Stack(runtime, sent, env, tmp_path / "worker.log", sent_key(settings.csbot_namespace))
    finally:
        sent.close()
        await runtime.close()


def one_reply_each(replies: list[tuple[str, str, str]], conversations: int) -> None:
    keys = [key for key, _, _ in replies]
    assert len(keys) == len(set(keys)), "a message was answered twice"
    assert sorted({c for _, _, c in replies}) == sorted(f"c{i}" for i in range(conversations))
    assert all("Freeze your card" in text for _, text, _ in replies)


async def test_one_worker_process_holds_many_generations_at_once(stack: Stack, fake_llm: FakeLLMServer) -> None:
    fake_llm.default = Behaviour(delay=SLOW)
    worker = start_worker(stack.env, stack.log, "csbot")
    try:
        for i in range(30):
            await stack.submit("I lost my card", message_id=f"m{i}", conversation=f"c{i}")
        replies = stack.wait_replies(30, timeout=120)
    finally:
        stop_worker(worker)
    assert len(replies) == 30
    one_reply_each(replies, 30)
    assert fake_llm.max_in_flight >= 20, f"only {fake_llm.max_in_flight} generations in flight at once"


async def test_llm_max_concurrency_caps_the_generations_in_flight(stack: Stack, fake_llm: FakeLLMServer) -> None:
    fake_llm.default = Behaviour(delay=0.5)
    worker = start_worker({**stack.env, "LLM_MAX_CONCURRENCY": "5"}, stack.log, "csbot")
    try:
        for i in range(20):
            await stack.submit("I lost my card", message_id=f"m{i}", conversation=f"c{i}")
        replies = stack.wait_replies(20, timeout=120)
    finally:
        stop_worker(worker)
    one_reply_each(replies, 20)
    assert fake_llm.max_in_flight == 5, f"{fake_llm.max_in_flight} generations in flight with a cap of 5"


async def test_a_worker_killed_with_many_turns_in_flight_answers_each_once_in_order(
    stack: Stack, fake_llm: FakeLLMServer
) -> None:
    """SIGKILL takes the whole process (its loop, pool and every turn in flight); the jobs were
    never acked, so Redis hands them to the restarted worker once their visibility lapses."""
    fake_llm.default = Behaviour(delay=SLOW)
    env = {**stack.env, "CELERY_VISIBILITY_TIMEOUT": "12"}
    worker = start_worker(env, stack.log, "csbot")
    try:
        for i in range(15):
            await stack.submit(f"#1 I lost my card", message_id=f"a{i}", conversation=f"c{i}")
            await stack.submit(f"#2 I lost my card", message_id=f"b{i}", conversation=f"c{i}")
        wait_until(lambda: fake_llm.in_flight >= 10, 90, "10 generations in flight")
        stop_worker(worker, signal.SIGKILL)
        answered_before = len(stack.replies())
        worker = start_worker(env, stack.log, "csbot")
        replies = stack.wait_replies(30, timeout=150)
    finally:
        stop_worker(worker)
    assert answered_before < 30  # the kill really interrupted work
    assert len(replies) == 30
    one_reply_each(replies, 15)
    for i in range(15):
        tags = [text.split()[0] for _, text, conversation in replies if conversation == f"c{i}"]
        assert tags == ["#1", "#2"], f"conversation c{i} answered as {tags}"
