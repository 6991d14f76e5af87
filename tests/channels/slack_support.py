"""Helpers for the Slack channel tests: Events API payloads signed as Slack signs them, and the
whole system (ASGI app, SQLite, in-process jobs) wired to the fake Slack Web API."""

from __future__ import annotations

from tests.support.limiters import OpenLimiter  # noqa: F401  (re-exported for the tests)

import hashlib
import hmac
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from channels.slack.channel import SlackChannel
from channels.slack.config import SlackConfig
from tests.fakes.slack_api import FakeSlackApi
from tests.support.databases import migrated_sqlite

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
BOT_USER = "UBOT"
CUSTOMER = "UCUST1"
DM_CHANNEL = "D0CUST1"
SUPPORT_CHANNEL = "C0SUPPORT"
AGENT_CHANNEL = "C0AGENTS"
EVENTS = "/webhooks/slack/events"
TEST_BOT = Path(__file__).resolve().parent.parent / "support" / "testbot"

FEES_ARTICLE = """---
title: Card fees
questions:
  - what are the card fees
  - how much does the card cost
---
Card fees: transfers < 100 EUR & card payments abroad > 0 EUR are free. Write <!channel> nowhere.
"""


# --- payloads --------------------------------------------------------------------------------


def signed_headers(body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends: v0 HMAC-SHA256 over `v0:{timestamp}:{raw body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": "application/json"}


def envelope(event: dict[str, Any], *, event_id: str | None = None, bot_user: str = BOT_USER) -> dict[str, Any]:
    """An Events API `event_callback` as Slack delivers it."""
    return {
        "token": "legacy-verification-token",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {"enterprise_id": None, "team_id": "T0001", "user_id": bot_user, "is_bot": True, "is_enterprise_install": False}
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ",
    }


def new_ts() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 1_000_000:06d}"


def dm_message(text: str, *, ts: str | None = None, channel: str = DM_CHANNEL, user: str = CUSTOMER, **extra: Any) -> dict[str, Any]:
    ts = ts or new_ts()
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "im",
        "client_msg_id": str(uuid.uuid4()),
        "team": "T0001",
    }
    event.update(extra)
    return event


def app_mention(text: str, *, ts: str | None = None, channel: str = SUPPORT_CHANNEL, user: str = CUSTOMER, **extra: Any) -> dict[str, Any]:
    ts = ts or new_ts()
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "event_ts": ts,
        "channel": channel,
        "client_msg_id": str(uuid.uuid4()),
        "team": "T0001",
    }
    event.update(extra)
    return event


# --- the running system ------------------------------------------------------------------------


@dataclass
class SlackSystem:
    fake: FakeSlackApi
    runtime: Any
    channel: SlackChannel
    http: httpx.AsyncClient
    limiter: OpenLimiter
    responses: list[httpx.Response] = field(default_factory=list)

    async def post(self, payload: dict[str, Any] | bytes, *, headers: dict[str, str] | None = None, sign: bool = True,
                   timestamp: int | None = None, secret: str = SIGNING_SECRET) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = signed_headers(body, secret=secret, timestamp=timestamp) if sign else {"Content-Type": "application/json"}
        sent.update(headers or {})
        response = await self.http.post(EVENTS, content=body, headers=sent)
        self.responses.append(response)
        return response

    async def settle(self) -> None:
        await self.runtime.jobs.drain(timeout=30)

    async def count(self, table: str) -> int:
        async with self.runtime.db.connect() as connection:
            return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())

    async def rows(self, table: str) -> list[dict[str, Any]]:
        async with self.runtime.db.connect() as connection:
            result = await connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            return [dict(r._mapping) for r in result]


def make_bot(folder: Path) -> Path:
    """The shared test bot plus an article full of Slack's reserved characters."""
    bot = folder / "bot"
    shutil.copytree(TEST_BOT, bot)
    (bot / "knowledge" / "card-fees.en.md").write_text(FEES_ARTICLE, encoding="utf-8")
    return bot


@asynccontextmanager
async def slack_system(tmp_path: Path, *, limiter: OpenLimiter | None = None) -> AsyncIterator[SlackSystem]:
    """Fake Slack API + runtime (SQLite, in-process jobs, embedded generator) + the ASGI app."""
    from bots.runtime import build_runtime
    from bots.web import create_app
    from infra.settings import load_settings

    limiter = limiter or OpenLimiter()
    async with FakeSlackApi(token=BOT_TOKEN, bot_user_id=BOT_USER) as fake:
        settings = load_settings(
            database_url=migrated_sqlite(tmp_path / "slack.db"),
            redis_url=None,
            llm_base_url=None,
            csbot_bot=make_bot(tmp_path),
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=fake.api_url,
            slack_agent_channel=AGENT_CHANNEL,
        )
        channel = SlackChannel(
            SlackConfig(
                bot_token=settings.slack_bot_token.get_secret_value(),
                signing_secret=settings.slack_signing_secret.get_secret_value(),
                api_url=settings.slack_api_url,
                agent_channel=settings.slack_agent_channel,
            ),
            limiter,
        )
        runtime = await build_runtime(settings, channels=[channel])
        app = create_app(runtime)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
                yield SlackSystem(fake, runtime, channel, http, limiter)
        finally:
            await runtime.close()
