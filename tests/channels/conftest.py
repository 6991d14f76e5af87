"""Fixtures for the Telegram and SMS channel tests: the fake platform servers, and the whole
system (ASGI app + SQLite and in-process jobs, or PostgreSQL, Redis and a Celery worker) wired
to them, with the database open for checks."""

from __future__ import annotations

from tests.support.limiters import OpenLimiter  # noqa: F401  (re-exported for the tests)
from tests.support.waiting import eventually  # noqa: F401  (re-exported for the tests)

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from channels.sms.channel import SmsConfig
from channels.telegram.channel import TelegramConfig
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.support.databases import migrated_sqlite

TEST_BOT = Path(__file__).resolve().parent.parent / "support" / "testbot"
MEDIA_ONLY_EN = "Sorry, I can only read text for now. Please type your question."

TG_TOKEN = "123456789:AAE-test_token-value"
TG_SECRET = "webhook-secret_0123456789"
TG_USERNAME = "acme_support_bot"
TG_BOT_ID = 123456789

TW_SID = "AC" + "1" * 32
TW_TOKEN = "twilio-auth-token-for-tests"
TW_FROM = "+15005550006"
PUBLIC_BASE = "https://csbot.example.com"


class MemoryOptOuts:
    def __init__(self) -> None:
        self.opted_out: dict[tuple[str, str], str] = {}

    async def is_opted_out(self, channel: str, address: str) -> bool:
        return (channel, address) in self.opted_out

    async def opt_out(self, channel: str, address: str, *, reason: str = "") -> None:
        self.opted_out[(channel, address)] = reason

    async def opt_in(self, channel: str, address: str) -> None:
        self.opted_out.pop((channel, address), None)


class RecordingStatuses:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, str, str]] = []

    async def record(self, channel: str, platform_message_id: str, outcome: Any, *, error: str = "") -> bool:
        self.records.append((channel, platform_message_id, str(outcome), error))
        return True


@pytest.fixture
def telegram_api() -> Iterator[FakeTelegramAPI]:
    with FakeTelegramAPI(TG_TOKEN, username=TG_USERNAME) as server:
        yield server


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI(TW_SID, TW_TOKEN) as server:
        yield server


def telegram_config(api: FakeTelegramAPI, **overrides: Any) -> TelegramConfig:
    return TelegramConfig(token=TG_TOKEN, webhook_secret=TG_SECRET, api_url=api.url, **overrides)


def sms_config(api: FakeTwilioAPI, **overrides: Any) -> SmsConfig:
    values: dict[str, Any] = {
        "account_sid": TW_SID,
        "auth_token": TW_TOKEN,
        "from_number": TW_FROM,
        "public_base_url": PUBLIC_BASE,
        "api_url": api.url,
        **overrides,
    }
    return SmsConfig(**values)


@dataclass
class System:
    """The running app: post webhooks through `client`, read the database with `rows`."""

    runtime: Any
    client: httpx.AsyncClient
    channel: Any

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.runtime.db.connect() as connection:
            return list((await connection.execute(text(sql), params)).all())

    async def count(self, table: str) -> int:
        return (await self.rows(f"SELECT count(*) FROM {table}"))[0][0]

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until every stored message is answered and every reply is sent or dead-lettered:
        in-process jobs are drained; with Celery the database is polled."""
        from workers.inprocess import InProcessJobs

        if isinstance(self.runtime.jobs, InProcessJobs):
            await self.runtime.jobs.drain(timeout=timeout)
            return

        async def quiet() -> bool:
            waiting = await self.rows("SELECT count(*) FROM messages WHERE status = 'received'")
            unsent = await self.rows("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
            return waiting[0][0] == 0 and unsent[0][0] == 0

        await eventually(quiet, timeout)

    async def messages(self) -> list[Any]:
        return await self.rows(
            "SELECT m.platform_message_id, c.conversation_key, m.kind, m.text, m.status FROM messages m"
            " JOIN conversations c ON c.id = m.conversation_id ORDER BY m.id"
        )

    async def outbox(self) -> list[Any]:
        return await self.rows("SELECT id, status, last_error, platform_message_id, text, conversation_key FROM outbox ORDER BY id")


@pytest.fixture(params=["sqlite"])
def channel_backend(request: pytest.FixtureRequest) -> str:
    """Which system `running_system` builds; tests opt into "postgres" with indirect parametrize."""
    return str(request.param)


@asynccontextmanager
async def running_system(
    tmp_path: Path, make_channel: Callable[[Any, Any], Any], *, backend: str = "sqlite", request: Any = None, **settings: Any
) -> AsyncIterator[System]:
    """Settings → runtime → ASGI app, with channels built by `make_channel(sessions, limiter)`.

    sqlite: a SQLite file, in-process jobs, an in-memory limiter. postgres: real PostgreSQL,
    Redis and a Celery worker in threads; each worker thread builds its own runtime and channel
    (database pools and HTTP clients belong to one event loop), sharing budgets through Redis.
    """
    from bots.runtime import build_runtime
    from bots.web import create_app
    from infra.db.engine import make_engine, make_sessions
    from infra.ratelimit import MemoryRateLimiter, RedisRateLimiter
    from infra.settings import load_settings

    base = {"llm_base_url": None, "csbot_bot": TEST_BOT, **settings}
    if backend == "sqlite":
        url = migrated_sqlite(tmp_path / "channels.db")
        config = load_settings(database_url=url, redis_url=None, **base)
        limiter: Any = MemoryRateLimiter()
    else:
        url = request.getfixturevalue("clean_postgres")
        redis_url = request.getfixturevalue("clean_redis")
        config = load_settings(database_url=url, redis_url=redis_url, **base)
        limiter = RedisRateLimiter(redis_url, prefix=f"csbot:test-rl:{uuid.uuid4().hex[:8]}:")
    engine = make_engine(url)
    channel = make_channel(make_sessions(engine), limiter)
    runtime = await build_runtime(config, channels=[channel], migrate=False)
    app = create_app(runtime)
    try:
        with _worker(config, make_channel, limiter) if backend != "sqlite" else nullcontext():
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
                yield System(runtime, client, channel)
    finally:
        await runtime.close()
        await engine.dispose()


@contextmanager
def _worker(config: Any, make_channel: Callable[[Any, Any], Any], limiter: Any) -> Iterator[None]:
    from celery.contrib.testing.worker import start_worker

    from bots.runtime import build_runtime, visibility_timeout
    from core.botdef import load_bot
    from infra.db.engine import make_engine, make_sessions
    from workers import bridge
    from workers.celery_app import CeleryJobs, Queues, create_celery

    app = create_celery(config.redis_url, visibility_timeout=visibility_timeout(config, load_bot(config.csbot_bot)),
                        namespace=config.csbot_namespace)

    async def services() -> Any:
        channel = make_channel(make_sessions(make_engine(config.database_url)), limiter)
        return await build_runtime(config, channels=[channel], jobs=CeleryJobs(app), migrate=False)

    bridge.install(services)
    queues = Queues(config.csbot_namespace)
    with start_worker(app, pool="threads", concurrency=3, perform_ping_check=False, queues=[queues.inbound, queues.outbound],
                      shutdown_timeout=30):
        yield



BOTH_BACKENDS = pytest.mark.parametrize("channel_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.services)],
                                        indirect=True)


def sms_channel(api: FakeTwilioAPI, sessions: Any, limiter: Any, **config: Any) -> Any:
    from channels.sms.channel import SmsChannel
    from infra.db.delivery_status import SqlDeliveryStatus
    from infra.db.optouts import SqlOptOuts

    return SmsChannel(sms_config(api, **config), limiter, SqlOptOuts(sessions), SqlDeliveryStatus(sessions))


@pytest.fixture
async def telegram_system(request: pytest.FixtureRequest, tmp_path: Path, telegram_api: FakeTelegramAPI,
                          channel_backend: str) -> AsyncIterator[System]:
    """The system with the Telegram channel pointed at the fake Bot API."""
    from channels.telegram.channel import TelegramChannel

    def make(_sessions: Any, limiter: Any) -> TelegramChannel:
        return TelegramChannel(telegram_config(api=telegram_api), limiter)

    settings = {"telegram_bot_token": TG_TOKEN, "telegram_webhook_secret": TG_SECRET, "telegram_api_url": telegram_api.url}
    async with running_system(tmp_path, make, backend=channel_backend, request=request, **settings) as running:
        yield running


@pytest.fixture
async def sms_system(request: pytest.FixtureRequest, tmp_path: Path, twilio_api: FakeTwilioAPI,
                     channel_backend: str) -> AsyncIterator[System]:
    """The system with the SMS channel pointed at the fake Twilio API."""
    settings = {"twilio_account_sid": TW_SID, "twilio_auth_token": TW_TOKEN, "twilio_from_number": TW_FROM,
                "twilio_api_url": twilio_api.url, "public_base_url": PUBLIC_BASE}
    make = lambda sessions, limiter: sms_channel(twilio_api, sessions, limiter)  # noqa: E731
    async with running_system(tmp_path, make, backend=channel_backend, request=request, **settings) as running:
        yield running
