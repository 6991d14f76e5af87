"""Build the real Celery worker app for tests: a recording channel, or the platform channels
the settings turn on (pointed at the fake platform servers)."""

from __future__ import annotations

from celery import Celery

from bots.runtime import build_runtime, visibility_timeout
from core.botdef import load_bot
from core.services import Services
from infra.settings import Settings
from tests.support.recording import RecordingChannel
from workers import bridge
from workers.celery_app import CeleryJobs, create_celery


def worker_app(settings: Settings, channel: RecordingChannel | None, *, platform_channels: bool = False) -> Celery:
    assert settings.redis_url
    app = create_celery(settings.redis_url, visibility_timeout=visibility_timeout(settings, load_bot(settings.csbot_bot)))
    channels = [channel] if channel is not None else []

    async def services() -> Services:
        runtime = await build_runtime(
            settings, channels=channels, platform_channels=platform_channels, jobs=CeleryJobs(app), migrate=False
        )
        return runtime.services

    bridge.install(services)
    return app
