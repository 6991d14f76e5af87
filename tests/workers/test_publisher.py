"""Jobs leave the event loop for the publisher thread and reach Redis in the order enqueued."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time

import pytest
import redis

from workers.celery_app import CeleryJobs, Queues, create_celery
from workers.publisher import Publisher

pytestmark = pytest.mark.services


async def test_enqueued_jobs_reach_the_queue_in_order_without_blocking_the_loop(clean_redis: str) -> None:
    namespace = os.environ["CSBOT_NAMESPACE"]
    jobs = CeleryJobs(create_celery(clean_redis, namespace=namespace))
    beats: list[float] = []

    async def heartbeat(stop: asyncio.Event) -> None:
        while not stop.is_set():
            beats.append(time.perf_counter())
            await asyncio.sleep(0)

    stop = asyncio.Event()
    beat = asyncio.create_task(heartbeat(stop))
    await asyncio.sleep(0)
    for message_id in range(200):
        jobs.enqueue_inbound(message_id)
    assert await asyncio.to_thread(jobs.flush, 30)
    stop.set()
    await beat
    client = redis.Redis.from_url(clean_redis)
    try:
        raw = client.lrange(Queues(namespace).redis_key("inbound"), 0, -1)
    finally:
        client.close()
    sent = [_args(m)[0] for m in reversed(raw)]  # LPUSH: newest first
    assert sent == list(range(200))
    assert len(beats) > 10  # the loop ran while the publisher thread sent


def _args(message: bytes) -> list[int]:
    """The task's positional args out of kombu's envelope (body: base64 of [args, kwargs, embed])."""
    return list(json.loads(base64.b64decode(json.loads(message)["body"]))[0])


def test_a_failing_publish_is_retried_then_given_up_without_stopping_the_thread() -> None:
    publisher = Publisher()
    calls: list[str] = []
    done = threading.Event()

    def flaky() -> None:
        calls.append("flaky")
        if calls.count("flaky") < 2:
            raise ConnectionError("broker restarting")

    def broken() -> None:
        calls.append("broken")
        raise ConnectionError("broker gone")

    publisher.submit(flaky)
    publisher.submit(broken)
    publisher.submit(done.set)
    assert publisher.flush(10) and done.is_set()
    assert calls == ["flaky", "flaky", "broken", "broken", "broken"]


def test_flush_waits_for_what_was_submitted_before_it_not_for_what_comes_after() -> None:
    publisher = Publisher()
    release = threading.Event()
    sent: list[int] = []
    publisher.submit(lambda: (release.wait(5), sent.append(1)))
    flushed: list[bool] = []
    flusher = threading.Thread(target=lambda: flushed.append(publisher.flush(10)))
    flusher.start()
    time.sleep(0.05)
    assert not flushed, "the earlier publish is still in flight"
    publisher.submit(lambda: time.sleep(3))  # later work must not hold the flush up
    release.set()
    flusher.join(2)
    assert flushed == [True] and sent == [1]


def test_a_task_returns_only_after_the_jobs_it_enqueued_were_sent() -> None:
    """A Celery task is acked late, once `bridge.run` returns: by then its follow-up jobs must
    have left the process, or a worker dying in between would lose them."""
    from workers import bridge

    publisher = Publisher()
    sent = threading.Event()

    class Built:
        services = None

        async def close(self) -> None:
            return None

    async def factory() -> Built:
        return Built()

    async def job(_: object) -> str:
        publisher.submit(lambda: (time.sleep(0.3), sent.set()))
        return "done"

    bridge.install(factory)  # type: ignore[arg-type]
    try:
        assert bridge.run(job) == "done"  # type: ignore[arg-type]
        assert sent.is_set()
    finally:
        bridge.shutdown()
