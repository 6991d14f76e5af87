"""Shared fixtures: the two backends every pipeline test runs on.

* `sqlite`: a SQLite file and in-process jobs, as a newcomer runs it.
* `postgres`: real PostgreSQL, real Redis and a real Celery worker (in a thread of this
  process, so it can share the recording channel), as production runs it.

The postgres backend is skipped when the services are not reachable, unless
CSBOT_REQUIRE_SERVICES=1 (CI sets it) turns that skip into a failure.

Test runs share Redis side by side: each test that asks for `clean_redis` gets a namespace of
its own (`CSBOT_NAMESPACE`: every Redis key, Celery queue, lock and send budget carries it),
and only that namespace's keys are deleted afterwards, never the whole database.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.llm_server import FakeLLMServer
from tests.support.databases import PG_ADMIN_URL, fresh_postgres_database, migrated_sqlite, run_in_thread  # noqa: F401
from tests.support.recording import RecordingChannel

REQUIRE_SERVICES = os.environ.get("CSBOT_REQUIRE_SERVICES") == "1"
REDIS_TEST_URL = os.environ.get("CSBOT_TEST_REDIS", "redis://127.0.0.1:6379/11")
RUN_ID = uuid.uuid4().hex[:8]  # this test run (one per process, so per xdist worker too)
TEST_BOT = Path(__file__).parent / "support" / "testbot"
# Session services too heavy to run once per xdist worker: the tests using them share one worker.
ONE_WORKER_FIXTURES = ("local_llm",)

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Tests that ask for `clean_redis` get a namespace of their own anyway; this keeps anything
    # else that reads settings from sharing Redis keys or Celery queues with the other workers.
    os.environ["CSBOT_NAMESPACE"] = "-".join(filter(None, (os.environ.get("CSBOT_NAMESPACE"), os.environ["PYTEST_XDIST_WORKER"], RUN_ID)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Send every test of a heavy session service to one xdist worker (`--dist loadgroup`),
    so the service starts once per run, not once per worker (two llama.cpp servers on two cores
    would each run at half speed)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        for name in ONE_WORKER_FIXTURES:
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(name))


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def services_up() -> bool:
    return reachable("127.0.0.1", 5432) and reachable("127.0.0.1", 6379)


def require_services() -> None:
    if services_up():
        return
    if REQUIRE_SERVICES:
        pytest.fail("PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) must be running (CSBOT_REQUIRE_SERVICES=1)")
    pytest.skip("PostgreSQL/Redis not reachable on 127.0.0.1")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this test session, migrated to head."""
    require_services()
    from infra.db.migrate import upgrade

    with fresh_postgres_database() as url:
        upgrade(url)
        yield url


@pytest.fixture
def clean_postgres(postgres_url: str) -> str:
    import asyncpg

    async def truncate() -> None:
        conn = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
        try:
            tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'")
            if tables:
                await conn.execute("TRUNCATE " + ", ".join(f'"{t["tablename"]}"' for t in tables) + " RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    run_in_thread(truncate())
    return postgres_url


@pytest.fixture
def clean_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test Redis, under a namespace no other test (or test run) uses; its keys are
    deleted when the test ends. Settings loaded during the test pick the namespace up."""
    require_services()
    import redis

    namespace = f"t{RUN_ID}-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("CSBOT_NAMESPACE", namespace)
    yield REDIS_TEST_URL
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        delete_namespace(client, namespace)
    finally:
        client.close()


def delete_namespace(client: Any, namespace: str) -> int:
    """Delete every key of `namespace` (and only those); returns how many went."""
    deleted = 0
    for batch in _batches(client.scan_iter(match=f"{namespace}:*", count=500), 500):
        deleted += client.delete(*batch)
    return deleted


def _batches(items: Any, size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def worker_queues(settings: Any) -> list[str]:
    """The inbound and outbound queue names of the settings' namespace, for `start_worker`."""
    from workers.celery_app import Queues

    queues = Queues(settings.csbot_namespace)
    return [queues.inbound, queues.outbound]


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@dataclass
class Pipeline:
    """A running system: submit messages through intake, read what the channel sent."""

    backend: str
    runtime: Any
    channel: RecordingChannel

    async def submit(self, text: str, *, message_id: str, conversation: str = "c1") -> Any:
        from tests.support.recording import inbound

        return await self.runtime.services.intake.accept(inbound(text, message_id=message_id, conversation=conversation))

    async def wait_sent(self, count: int, timeout: float = 30.0) -> list[Any]:
        return await asyncio.to_thread(self.channel.wait_for, count, timeout)

    async def settle(self) -> None:
        """Let in-process jobs finish (Celery jobs are awaited through `wait_sent`)."""
        from workers.inprocess import InProcessJobs

        if isinstance(self.runtime.jobs, InProcessJobs):
            await self.runtime.jobs.drain(timeout=60)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_services()
    return request.param


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A migrated database on `backend` (empty), as the URL settings carry."""
    if backend == "postgres":
        return str(request.getfixturevalue("clean_postgres"))
    return migrated_sqlite(tmp_path / "db.sqlite")


@pytest.fixture
async def db_sessions(db_url: str) -> AsyncIterator[Any]:
    """A migrated database on `backend` (empty), as the async session factory infra takes."""
    from infra.db.engine import make_engine, make_sessions

    engine = make_engine(db_url)
    try:
        yield make_sessions(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def pipeline(request: pytest.FixtureRequest, backend: str, tmp_path: Path, fake_llm: FakeLLMServer) -> AsyncIterator[Pipeline]:
    """The whole system on `backend`, with the fake LLM server and a recording channel.

    Tests may ask for `llm_off` (via indirect marker) to use the embedded generator instead.
    """
    from bots.runtime import build_runtime
    from infra.settings import load_settings

    use_llm = request.node.get_closest_marker("embedded_generator") is None
    overrides: dict[str, Any] = {"csbot_bot": TEST_BOT, "llm_base_url": fake_llm.url if use_llm else None}
    channel = RecordingChannel()
    if backend == "sqlite":
        settings = load_settings(database_url=migrated_sqlite(tmp_path / "csbot.db"), redis_url=None, **overrides)
        runtime = await build_runtime(settings, channels=[channel])
        try:
            yield Pipeline(backend, runtime, channel)
        finally:
            await runtime.close()
        return

    pg = request.getfixturevalue("clean_postgres")
    redis_url = request.getfixturevalue("clean_redis")
    settings = load_settings(database_url=pg, redis_url=redis_url, **overrides)
    from celery.contrib.testing.worker import start_worker

    from tests.support.worker import worker_app

    app = worker_app(settings, channel)
    runtime = await build_runtime(settings, channels=[channel], migrate=False)
    try:
        with start_worker(app, pool="threads", concurrency=3, perform_ping_check=False, queues=worker_queues(settings), shutdown_timeout=30):
            yield Pipeline(backend, runtime, channel)
    finally:
        await runtime.close()
