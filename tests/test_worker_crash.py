"""A worker process killed mid-turn: the message is answered exactly once after it comes back.

Uses a real `celery worker` (prefork) in a subprocess against real Redis and PostgreSQL; the
fake LLM server holds the first generation long enough to kill the worker's child during it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import redis

from bots.runtime import build_runtime
from infra.settings import load_settings
from tests.conftest import TEST_BOT
from tests.fakes.llm_server import Behaviour, FakeLLMServer
from tests.support.recording import inbound
from tests.support.worker_main import sent_key
from tests.support.worker_process import children, start_worker, stop_worker, wait_until, worker_env


@pytest.mark.slow
async def test_worker_killed_mid_generation_answers_once_after_restart(
    clean_postgres: str, clean_redis: str, fake_llm: FakeLLMServer, tmp_path: Path
) -> None:
    fake_llm.then(Behaviour(delay=6.0))  # the first generation hangs: we kill the worker during it
    env = worker_env(clean_postgres, clean_redis, fake_llm.url, TEST_BOT)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    settings = load_settings(database_url=clean_postgres, redis_url=clean_redis, csbot_bot=TEST_BOT, llm_base_url=fake_llm.url)
    runtime = await build_runtime(settings, migrate=False)
    sent = redis.Redis.from_url(clean_redis)
    sent_to = sent_key(settings.csbot_namespace)
    try:
        await runtime.services.intake.accept(inbound("I lost my card", message_id="crash-1", channel="test"))
        fake_llm.wait_for_requests(1, timeout=60)  # the worker is now inside the generation
        [child] = children(worker.pid)
        os.kill(child, signal.SIGKILL)  # as the OOM killer would
        wait_until(lambda: sent.llen(sent_to) >= 1, 90, "the reply after the crash")
        time.sleep(3)  # a duplicate would show up now
        replies = [r.decode() for r in sent.lrange(sent_to, 0, -1)]
        assert len(replies) == 1, replies
        assert replies[0].startswith("reply:") and "Freeze your card" in replies[0]
        assert len(fake_llm.requests) == 2  # the killed attempt and the re-run
    finally:
        stop_worker(worker)
        sent.close()
        await runtime.close()
        print(log.read_text()[-3000:])
