"""The Celery worker's composition root.

`csbot worker` (or `celery -A bots.worker worker`) builds the Celery app from settings and
installs the factory the task bridge uses to build services once per worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable

from celery import Celery

from bots import worker_health, worker_metrics
from bots.runtime import build_runtime, visibility_timeout
from channels.base import Channel
from core.botdef import load_bot
from core.errors import ConfigError
from core.services import Services
from infra.settings import Settings, load_settings
from workers import bridge
from workers.celery_app import INBOUND_QUEUE, LEARNING_QUEUE, OUTBOUND_QUEUE, CeleryJobs, create_celery


def make_worker_app(
    settings: Settings, *, channels: Iterable[Channel] = (), platform_channels: bool = True
) -> Celery:
    """The Celery app plus the services factory its tasks run on. `channels` adds senders of
    your own (tests and benchmarks record what is sent instead of calling a platform)."""
    channels = list(channels)
    if not settings.redis_url:
        raise ConfigError("environment", "REDIS_URL", "the worker needs Redis; without it jobs run inside `csbot serve`")
    bot = load_bot(settings.csbot_bot)
    app = create_celery(settings.redis_url, visibility_timeout=visibility_timeout(settings, bot))

    async def services() -> Services:
        runtime = await build_runtime(
            settings, channels=channels, platform_channels=platform_channels, jobs=CeleryJobs(app), migrate=False
        )
        return runtime.services

    bridge.install(services)
    worker_health.install(app)  # the file `csbot worker-probe` checks
    worker_metrics.install(app, settings.worker_metrics_port)  # /metrics for Prometheus
    return app


def run_worker(settings: Settings, *, concurrency: int | None, loglevel: str) -> None:
    app = make_worker_app(settings)
    argv = ["worker", f"--queues={INBOUND_QUEUE},{OUTBOUND_QUEUE},{LEARNING_QUEUE}", f"--loglevel={loglevel}"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    app.worker_main(argv)


def __getattr__(name: str) -> Celery:
    """`celery -A bots.worker worker` asks for `app`; build it from the environment then."""
    if name in ("app", "celery"):
        return make_worker_app(load_settings())
    raise AttributeError(name)
