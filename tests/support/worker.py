"""The real Celery worker app for tests: a recording channel, or the platform channels the
settings turn on (pointed at the fake platform servers)."""

from __future__ import annotations

from celery import Celery

from bots.worker import make_worker_app
from infra.settings import Settings
from tests.support.recording import RecordingChannel


def worker_app(settings: Settings, channel: RecordingChannel | None, *, platform_channels: bool = False) -> Celery:
    return make_worker_app(settings, channels=[channel] if channel else [], platform_channels=platform_channels)
