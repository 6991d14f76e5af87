"""Build the real Celery worker app for tests, with a recording channel instead of platforms."""

from __future__ import annotations

from celery import Celery

from bots.runtime import build_runtime, visibility_timeout
from core.botdef import load_bot
from core.services import Services
from infra.settings import Settings
from tests.support.recording import RecordingChannel
from workers import bridge
from workers.celery_app import CeleryJobs, create_celery


def worker_app(settings: Settings, channel: RecordingChannel) -> Celery:
    assert settings.redis_url
    app = create_celery(settings.redis_url, visibility_timeout=visibility_timeout(settings, load_bot(settings.csbot_bot)))

    async def services() -> Services:
        runtime = await build_runtime(settings, channels=[channel], jobs=CeleryJobs(app), migrate=False)
        return runtime.services

    bridge.install(services)
    return app
