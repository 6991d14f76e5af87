"""Benchmark worker process: the real csbot worker (mode `pipeline`) or a bare Celery worker
whose one task does one Redis write (mode `bare`). Both record completion times in Redis."""

from __future__ import annotations

import argparse
import asyncio
import time
import weakref

import redis
import redis.asyncio as aioredis
from celery import Celery

from bots.worker import make_worker_app
from core.capabilities import PLAIN
from core.messages import Delivered, OutboundMessage
from infra.settings import load_settings

DONE_KEY = "csbot:bench:done"
BARE_TASK = "bench.bare"


class BenchChannel:
    """Records `<conversation>|<time>` for each reply, as a platform would receive it."""

    name = "bench"
    capabilities = PLAIN

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url
        # One client per event loop: each Celery worker thread runs its own loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()

    async def send(self, message: OutboundMessage) -> Delivered:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = aioredis.Redis.from_url(self._redis_url)
        await client.rpush(DONE_KEY, f"{message.conversation_key}|{time.time()}")
        return Delivered(platform_message_id=str(message.id))


def bare_app(redis_url: str) -> Celery:
    app = Celery("bench-bare", broker=redis_url)
    app.conf.update(task_ignore_result=True, worker_prefetch_multiplier=1, task_acks_late=True)
    client = redis.Redis.from_url(redis_url)

    @app.task(name=BARE_TASK)
    def bare(key: str) -> None:
        client.rpush(DONE_KEY, f"{key}|{time.time()}")

    return app


def pipeline_app() -> Celery:
    settings = load_settings()
    assert settings.redis_url
    return make_worker_app(settings, channels=[BenchChannel(settings.redis_url)], platform_channels=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["bare", "pipeline"])
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    app = bare_app(load_settings().redis_url or "") if args.mode == "bare" else pipeline_app()
    queues = "celery" if args.mode == "bare" else "inbound,outbound"
    app.worker_main(["worker", "--pool=threads", f"--concurrency={args.concurrency}", f"--queues={queues}",
                     "--loglevel=WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"])


if __name__ == "__main__":
    main()
