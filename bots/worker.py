"""The Celery worker's composition root.

`csbot worker` (or `celery -A bots.worker worker`) builds the Celery app from settings and
installs the factory the task bridge uses to build services once per worker process, on its
shared event loop. `csbot worker` runs Celery's thread pool sized to `LLM_MAX_CONCURRENCY`:
each pool thread holds one job in flight on that loop, so the pool's size is the backpressure
(past it, jobs wait in Redis, one prefetched per thread).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from celery import Celery

from bots import worker_health, worker_metrics
from bots.runtime import build_runtime, visibility_timeout
from channels.base import Channel
from core.botdef import load_bot
from core.errors import ConfigError
from infra.settings import Settings, load_settings
from workers import bridge
from workers.bridge import ProcessServices
from workers.celery_app import CeleryJobs, Queues, create_celery

log = logging.getLogger(__name__)


def make_worker_app(
    settings: Settings, *, channels: Iterable[Channel] = (), platform_channels: bool = True
) -> Celery:
    """The Celery app plus the services factory its tasks run on. `channels` adds senders of
    your own (tests and benchmarks record what is sent instead of calling a platform)."""
    channels = list(channels)
    if not settings.redis_url:
        raise ConfigError("environment", "REDIS_URL", "the worker needs Redis; without it jobs run inside `csbot serve`")
    bot = load_bot(settings.csbot_bot)
    app = create_celery(
        settings.redis_url, visibility_timeout=visibility_timeout(settings, bot), namespace=settings.csbot_namespace
    )

    async def services() -> ProcessServices:
        return await build_runtime(
            settings, channels=channels, platform_channels=platform_channels, jobs=CeleryJobs(app), migrate=False
        )

    bridge.install(services)
    worker_health.install(app)  # the file `csbot worker-probe` checks
    worker_metrics.install(app, settings.worker_metrics_port)  # /metrics for Prometheus
    return app


def run_worker(settings: Settings, *, concurrency: int | None, loglevel: str) -> None:
    """`concurrency` (default `LLM_MAX_CONCURRENCY`) is the number of jobs in flight at once."""
    app = make_worker_app(settings)
    lower_priority(settings.worker_nice)
    app.worker_main(worker_argv(settings, concurrency=concurrency, loglevel=loglevel))


def lower_priority(steps: int) -> None:
    """Take `WORKER_NICE` nice steps, before the pool's threads start (Linux threads inherit
    the value of the thread that starts them), so the web edge on the same cores acks first."""
    if steps and hasattr(os, "nice"):
        try:
            os.nice(steps)
        except OSError as exc:  # not permitted here: the worker runs at normal priority
            log.info("worker keeps normal priority: %s", exc)


def worker_argv(settings: Settings, *, concurrency: int | None, loglevel: str) -> list[str]:
    return [
        "worker",
        f"--queues={','.join(Queues(settings.csbot_namespace).by_role().values())}",
        f"--loglevel={loglevel}",
        "--pool=threads",
        f"--concurrency={concurrency or settings.llm_max_concurrency}",
    ]


def __getattr__(name: str) -> Celery:
    """`celery -A bots.worker worker` asks for `app`; build it from the environment then."""
    if name in ("app", "celery"):
        return make_worker_app(load_settings())
    raise AttributeError(name)
