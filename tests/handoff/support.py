"""The handoff test system: the whole app with Telegram, SMS and Slack (customer channel and agent
desk) pointed at the fake platform servers, webhooks signed as each platform signs them.

`desk_system` runs on SQLite with in-process jobs, or on PostgreSQL + Redis with a real Celery
worker in threads (whose own runtime talks to the same fake servers)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from aiohttp import web
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from tests.conftest import TEST_BOT, worker_queues
from tests.fakes.slack_api import Call, FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.support.databases import migrated_sqlite
from tests.support import waiting

TG_TOKEN = "123456789:AAE-handoff_token-value"
TG_SECRET = "handoff-secret_0123456789"
SLACK_TOKEN = "xoxb-handoff-token"
SLACK_SECRET = "handoff-signing-secret-0123456789"
TW_SID = "AC" + "3" * 32
TW_TOKEN = "handoff-twilio-auth-token"
TW_FROM = "+15005550006"
PUBLIC = "https://bot.example.com"
AGENT_CHANNEL = "C0AGENTS"
ADMIN = "UADMIN1"
AGENT = "UAGENT1"
OTHER_AGENT = "UAGENT2"
ONCALL = "+15550009999"
TG_CHAT = 4242
SMS_CUSTOMER = "+15550100199"
SLACK_DM = "D0CUST1"
SLACK_CUSTOMER = "UCUST1"

JSON_COLUMNS = frozenset({"understanding", "metadata", "buttons", "value"})
_ids = itertools.count(int(time.time()) % 100000 * 100)


class FakeResponseUrl:
    """Slack's response_url: records what a deferred admin command answered."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> FakeResponseUrl:
        app = web.Application()
        app.router.add_post("/commands/{token}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/commands/{uuid.uuid4().hex[:12]}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.posts.append({"path": request.path, **(await request.json())})
        return web.Response(text="ok")


def slack_signature(body: bytes, *, secret: str = SLACK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def envelope(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "event_callback", "team_id": "T0001", "api_app_id": "A1", "event": event,
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
        "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}],
    }


@dataclass
class DeskSystem:
    backend: str
    runtime: Any
    http: httpx.AsyncClient
    slack: FakeSlackApi
    telegram: FakeTelegramAPI
    twilio: FakeTwilioAPI
    response_url: FakeResponseUrl
    responses: list[httpx.Response] = field(default_factory=list)

    # --- customers ---------------------------------------------------------------------------

    async def telegram_message(self, text_: str, *, chat_id: int = TG_CHAT, name: str = "Ana Lima") -> httpx.Response:
        first, _, last = name.partition(" ")
        update_id = next(_ids)
        sender = {"id": chat_id, "is_bot": False, "first_name": first, "last_name": last}
        body = {"update_id": update_id, "message": {"message_id": update_id, "date": int(time.time()),
                                                    "chat": {"id": chat_id, "type": "private", "first_name": first},
                                                    "from": sender, "text": text_}}
        headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"}
        return await self._post("/webhooks/telegram", json.dumps(body).encode(), headers)

    async def sms(self, text_: str, *, sender: str = SMS_CUSTOMER) -> httpx.Response:
        sid = "SM" + uuid.uuid4().hex
        params = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": TW_SID, "From": sender, "To": TW_FROM,
                  "Body": text_, "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01"}
        signature = RequestValidator(TW_TOKEN).compute_signature(f"{PUBLIC}/webhooks/twilio/sms", params)
        headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
        return await self._post("/webhooks/twilio/sms", urlencode(params).encode(), headers)

    async def slack_dm(self, text_: str) -> httpx.Response:
        ts = f"{time.time():.6f}"
        event = {"type": "message", "channel": SLACK_DM, "user": SLACK_CUSTOMER, "text": text_, "ts": ts, "event_ts": ts,
                 "channel_type": "im", "team": "T0001"}
        return await self.slack_event(envelope(event))

    async def send(self, channel: str, text_: str) -> httpx.Response:
        """A customer message on `channel` ("telegram", "sms" or "slack")."""
        if channel == "telegram":
            return await self.telegram_message(text_)
        if channel == "sms":
            return await self.sms(text_)
        return await self.slack_dm(text_)

    def received(self, channel: str) -> list[str]:
        """What the customer on `channel` has received, in order."""
        if channel == "telegram":
            return [str(p["text"]) for p in self.telegram.sent(TG_CHAT)]
        if channel == "sms":
            return [m.body for m in self.twilio.sent_to(SMS_CUSTOMER)]
        return [c.text for c in self.slack.posts if c.channel == SLACK_DM]

    # --- agents and admins ------------------------------------------------------------------------

    async def slack_event(self, payload: dict[str, Any], *, headers: dict[str, str] | None = None) -> httpx.Response:
        body = json.dumps(payload).encode()
        sent = {**slack_signature(body), "Content-Type": "application/json", **(headers or {})}
        return await self._post("/webhooks/slack/events", body, sent)

    async def agent_reply(self, thread_ts: str, text_: str, *, user: str = AGENT, event_id: str | None = None,
                          retry: bool = False) -> httpx.Response:
        ts = f"{time.time():.6f}"
        event = {"type": "message", "channel": AGENT_CHANNEL, "user": user, "text": text_, "ts": ts, "event_ts": ts,
                 "thread_ts": thread_ts, "channel_type": "channel", "team": "T0001"}
        headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return await self.slack_event(envelope(event, event_id=event_id), headers=headers)

    async def click(self, action: str, handoff_id: int, *, user: str = AGENT, sign: bool = True) -> httpx.Response:
        payload = {
            "type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
            "api_app_id": "A1", "container": {"type": "message", "channel_id": AGENT_CHANNEL},
            "channel": {"id": AGENT_CHANNEL}, "response_url": self.response_url.url(), "trigger_id": f"{time.time():.0f}.{uuid.uuid4().int % 10**12}",
            "actions": [{"type": "button", "action_id": f"csbot_handoff:{action}", "block_id": "b",
                         "value": str(handoff_id), "action_ts": f"{time.time():.6f}"}],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers.update(slack_signature(body) if sign else {})
        return await self._post("/webhooks/slack/interactions", body, headers)

    async def command(self, text_: str, *, user: str = ADMIN, sign: bool = True, secret: str = SLACK_SECRET,
                      **extra: str) -> httpx.Response:
        form = {"token": "legacy", "team_id": "T0001", "team_domain": "acme", "channel_id": AGENT_CHANNEL,
                "channel_name": "agents", "user_id": user, "user_name": user.lower(), "command": "/csbot",
                "text": text_, "response_url": self.response_url.url(), "trigger_id": f"{time.time():.0f}.{uuid.uuid4().int % 10**12}", **extra}
        body = urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers.update(slack_signature(body, secret=secret) if sign else {})
        return await self._post("/webhooks/slack/commands", body, headers)

    async def admin(self, text_: str, *, user: str = ADMIN, **extra: str) -> str:
        """What a `/csbot` command answered: the immediate ephemeral reply or, for a slow
        command, what its job later posted to the response_url."""
        before = len(self.response_url.posts)
        response = await self.command(text_, user=user, **extra)
        assert response.status_code == 200
        body = response.json()
        assert body["response_type"] == "ephemeral"
        if not body["text"].startswith("Working on"):
            return str(body["text"])
        await self.settle()
        posts = await eventually(lambda: self.response_url.posts[before:])
        assert posts[0]["response_type"] == "ephemeral"
        return str(posts[0]["text"])

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        response = await self.http.post(path, content=body, headers=headers)
        self.responses.append(response)
        return response

    # --- what the desk shows -----------------------------------------------------------------------

    def cards(self) -> list[Call]:
        """Handoff cards: top-level posts in the agent channel."""
        return [c for c in self.slack.posts if c.channel == AGENT_CHANNEL and not c.thread_ts]

    def thread(self, ts: str) -> list[str]:
        return [c.text for c in self.slack.posts if c.channel == AGENT_CHANNEL and c.thread_ts == ts]

    def updates(self, ts: str) -> list[Call]:
        return [c for c in self.slack.calls_to("chat.update") if c.accepted and c.params.get("ts") == ts]

    # --- the database --------------------------------------------------------------------------------

    async def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Rows as dicts; JSON columns decoded (SQLite hands them back as text)."""
        async with self.runtime.db.connect() as connection:
            rows = [dict(r._mapping) for r in await connection.execute(text(sql), params)]
        for row in rows:
            for key in JSON_COLUMNS & row.keys():
                if isinstance(row[key], str):
                    row[key] = json.loads(row[key])
        return rows

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.runtime.db.connect() as connection:
            return (await connection.execute(text(sql), params)).scalar()

    async def handoffs(self) -> list[dict[str, Any]]:
        return await self.rows("SELECT * FROM handoffs ORDER BY id")

    async def conversation_id(self, channel: str) -> int:
        return int(await self.scalar("SELECT id FROM conversations WHERE channel = :c ORDER BY id LIMIT 1", c=channel))

    async def settle(self, timeout: float = 45.0) -> None:
        """Until every message is handled, every reply sent and the desk caught up."""
        from workers.inprocess import InProcessJobs

        if isinstance(self.runtime.jobs, InProcessJobs):
            await self.runtime.jobs.drain(timeout=timeout)
            return

        async def quiet() -> bool:
            busy = await self.scalar(
                "SELECT (SELECT count(*) FROM messages WHERE status = 'received')"
                " + (SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending'))"
                " + (SELECT count(*) FROM handoffs WHERE desk_thread_ts = '')"
                " + (SELECT count(*) FROM messages m WHERE m.status = 'relayed' AND NOT EXISTS"
                "    (SELECT 1 FROM desk_posts d WHERE d.key = 'relay:' || m.id))"
            )
            return busy == 0

        try:
            await eventually(quiet, timeout)
            await asyncio.sleep(0.3)  # a desk update enqueued by the last step may still be in flight
            await eventually(quiet, timeout)
        except AssertionError:
            state = {
                "messages": await self.rows("SELECT id, status, text FROM messages ORDER BY id"),
                "outbox": await self.rows("SELECT id, status, last_error FROM outbox ORDER BY id"),
                "handoffs": await self.rows("SELECT id, state, desk_thread_ts FROM handoffs ORDER BY id"),
            }
            raise AssertionError(f"the system did not settle: {state}") from None


async def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """The shared poller with the longer wait the Celery-backed handoff tests need."""
    return await waiting.eventually(check, timeout)


@asynccontextmanager
async def desk_system(tmp_path: Path, *, backend: str = "sqlite", request: Any = None, bot: Path = TEST_BOT,
                      **overrides: Any) -> AsyncIterator[DeskSystem]:
    from bots.runtime import build_runtime
    from bots.web import create_app
    from infra.settings import load_settings
    from tests.support.worker import worker_app

    telegram = FakeTelegramAPI(TG_TOKEN).start()
    twilio = FakeTwilioAPI(TW_SID, TW_TOKEN).start()
    slack = await FakeSlackApi(token=SLACK_TOKEN).start()
    response_url = await FakeResponseUrl().start()
    values: dict[str, Any] = {
        "csbot_bot": bot, "llm_base_url": None,
        "telegram_bot_token": TG_TOKEN, "telegram_webhook_secret": TG_SECRET, "telegram_api_url": telegram.url,
        "slack_bot_token": SLACK_TOKEN, "slack_signing_secret": SLACK_SECRET, "slack_api_url": slack.api_url,
        "slack_agent_channel": AGENT_CHANNEL, "slack_admin_user_ids": f"{ADMIN},UADMIN2",
        "twilio_account_sid": TW_SID, "twilio_auth_token": TW_TOKEN, "twilio_from_number": TW_FROM,
        "twilio_api_url": twilio.url, "public_base_url": PUBLIC, "agent_oncall_number": ONCALL,
        **overrides,
    }
    if backend == "sqlite":
        settings = load_settings(database_url=migrated_sqlite(tmp_path / "desk.db"), redis_url=None, **values)
        runtime = await build_runtime(settings, platform_channels=True)
        worker: Any = nullcontext()
    else:
        from celery.contrib.testing.worker import start_worker

        settings = load_settings(database_url=request.getfixturevalue("clean_postgres"),
                                 redis_url=request.getfixturevalue("clean_redis"), **values)
        runtime = await build_runtime(settings, platform_channels=True, migrate=False)
        app = worker_app(settings, None, platform_channels=True)
        worker = start_worker(app, pool="threads", concurrency=3, perform_ping_check=False,
                              queues=worker_queues(settings), shutdown_timeout=30)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://test")
    try:
        with worker:
            yield DeskSystem(backend, runtime, http, slack, telegram, twilio, response_url)
    finally:
        await http.aclose()
        await runtime.close()
        await response_url.stop()
        await slack.stop()
        twilio.stop()
        telegram.stop()
