"""Benchmark worker process: the real csbot worker (mode `pipeline`: `csbot worker`'s app and
pool, its replies recorded) or a bare Celery worker whose one task does one Redis write (mode
`bare`, same pool and size). Both record `<id>|<time>` per reply in Redis, under the namespace.

    python -m infra.bench.worker {bare|pipeline} [--concurrency N] [--node NAME]   (default: LLM_MAX_CONCURRENCY)
"""

from __future__ import annotations

import argparse
import time

import redis
import redis.asyncio as aioredis
from celery import Celery

from bots.runtime import batched_encoder
from bots.worker import lower_priority, make_worker_app, worker_argv
from core.botdef import load_bot
from core.capabilities import PLAIN
from core.messages import Delivered, OutboundMessage
from workers.batched_encoder import BatchedEncoder
from infra.settings import Settings, load_settings

BARE_TASK = "bench.bare"


def done_key(settings: Settings) -> str:
    return settings.redis_key_prefix + "csbot:bench:done"


def encoder_key(settings: Settings) -> str:
    """A hash the pipeline worker keeps up to date: its batching encoder's texts, calls, seconds."""
    return settings.redis_key_prefix + "csbot:bench:encoder"


def bare_queue(settings: Settings) -> str:
    return f"{settings.csbot_namespace}.bare" if settings.csbot_namespace else "bare"


class BenchChannel:
    """Records `<conversation>|<time>` for each reply, as a platform would receive it."""

    name = "bench"
    capabilities = PLAIN

    def __init__(self, settings: Settings, encoder: BatchedEncoder | None = None) -> None:
        assert settings.redis_url
        self._url = settings.redis_url
        self._client: aioredis.Redis | None = None  # made on the worker's loop, on first send
        self._key = done_key(settings)
        self._encoder, self._encoder_key = encoder, encoder_key(settings)

    async def send(self, message: OutboundMessage) -> Delivered:
        if self._client is None:
            self._client = aioredis.Redis.from_url(self._url)
        if self._encoder is not None:  # before the reply is seen: the bench reads it after the last
            stats = self._encoder.stats()
            await self._client.hset(self._encoder_key, mapping={"texts": stats.texts, "calls": stats.calls,
                                                                "seconds": stats.seconds})
        await self._client.rpush(self._key, f"{message.conversation_key}|{time.time()}")
        return Delivered(platform_message_id=str(message.id))


def bare_celery(settings: Settings) -> Celery:
    """A Celery app with csbot's reliability settings and namespace, and nothing else."""
    app = Celery("bench-bare", broker=settings.redis_url)
    transport = {"global_keyprefix": settings.redis_key_prefix} if settings.redis_key_prefix else {}
    app.conf.update(task_ignore_result=True, worker_prefetch_multiplier=1, task_acks_late=True,
                    task_default_queue=bare_queue(settings), broker_transport_options=transport)
    return app


def bare_app(settings: Settings) -> Celery:
    app = bare_celery(settings)
    client = redis.Redis.from_url(settings.redis_url or "")
    key = done_key(settings)

    @app.task(name=BARE_TASK)
    def bare(key_: str) -> None:
        client.rpush(key, f"{key_}|{time.time()}")

    return app


QUIET = ["--loglevel=WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["bare", "pipeline"])
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--node", default="bench1", help="Celery node name: one per worker process of a run")
    args = parser.parse_args()
    settings = load_settings()
    argv = worker_argv(settings, concurrency=args.concurrency, loglevel="WARNING")
    node = f"--hostname={args.node}@%h"
    lower_priority(settings.worker_nice)  # as `csbot worker` does; the bare worker too, to compare alike
    if args.mode == "bare":
        size = args.concurrency or settings.llm_max_concurrency
        bare_app(settings).worker_main(["worker", "--pool=threads", f"--concurrency={size}",
                                        f"--queues={bare_queue(settings)}", node, *QUIET])
    else:
        name = load_bot(settings.csbot_bot).definition.retrieval.encoder
        channel = BenchChannel(settings, batched_encoder(name) if name else None)
        make_worker_app(settings, channels=[channel], platform_channels=False).worker_main([*argv, node, *QUIET])


if __name__ == "__main__":
    main()
