"""Two runs sharing one Redis database under different namespaces never see each other's jobs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import redis

from bots.probes import queue_depths
from bots.runtime import build_runtime
from infra.settings import load_settings
from tests.conftest import RUN_ID, TEST_BOT, delete_namespace, require_services, worker_queues
from tests.support.recording import RecordingChannel, inbound
from tests.support.worker import worker_app
from workers.celery_app import Queues

pytestmark = pytest.mark.services


def started(app: Any, settings: Any) -> Any:
    from celery.contrib.testing.worker import start_worker

    return start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, queues=worker_queues(settings),
                        shutdown_timeout=30)


async def test_a_worker_of_one_namespace_never_takes_another_namespaces_job(clean_postgres: str) -> None:
    require_services()
    from tests.conftest import REDIS_TEST_URL

    ours, theirs = f"t{RUN_ID}-ours", f"t{RUN_ID}-theirs"
    base = {"database_url": clean_postgres, "redis_url": REDIS_TEST_URL, "csbot_bot": TEST_BOT, "llm_base_url": None}
    mine, other = load_settings(csbot_namespace=ours, **base), load_settings(csbot_namespace=theirs, **base)
    client = redis.Redis.from_url(REDIS_TEST_URL)
    runtime = await build_runtime(mine, migrate=False)
    try:
        other_channel = RecordingChannel()
        with started(worker_app(other, other_channel), other):
            await runtime.services.intake.accept(inbound("I lost my card", message_id="n1"))
            time.sleep(3)  # the other run's worker would have answered by now
            assert other_channel.sent == []
            assert (await queue_depths(runtime.redis, Queues(ours)))["inbound"] == 1
            assert (await queue_depths(runtime.redis, Queues(theirs)))["inbound"] == 0

        channel = RecordingChannel()
        with started(worker_app(mine, channel), mine):
            [reply] = channel.wait_for(1, timeout=60)
        assert "Freeze your card" in reply.text
        ours_keys = {k.decode() for k in client.scan_iter(match=f"*{ours}*")}
        assert ours_keys and all(k.startswith(f"{ours}:") for k in ours_keys), ours_keys
    finally:
        await runtime.close()
        for namespace in (ours, theirs):
            delete_namespace(client, namespace)
        client.close()
