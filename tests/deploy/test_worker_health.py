"""The worker's health file: fresh while a real Celery worker's consumer runs, gone after."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bots import worker_health
from tests.conftest import TEST_BOT, worker_queues


def test_missing_and_stale_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "alive"
    assert "does not exist" in str(worker_health.check(path))
    path.touch()
    assert worker_health.check(path) is None
    old = time.time() - 120
    os.utime(path, (old, old))
    assert "stuck" in str(worker_health.check(path, stale_after=60))


@pytest.mark.services
def test_a_running_worker_keeps_the_file(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    from celery.contrib.testing.worker import start_worker

    from infra.settings import load_settings
    from tests.support.worker import worker_app

    path = tmp_path / "alive"
    monkeypatch.setenv(worker_health.HEALTH_FILE_ENV, str(path))
    settings = load_settings(csbot_bot=TEST_BOT, database_url=request.getfixturevalue("clean_postgres"),
                             redis_url=request.getfixturevalue("clean_redis"), llm_base_url=None)
    with start_worker(worker_app(settings, None), pool="threads", concurrency=1, perform_ping_check=False,
                      queues=worker_queues(settings)[:1], shutdown_timeout=30):
        deadline = time.monotonic() + 20
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert worker_health.check(path) is None
    assert not path.exists()
