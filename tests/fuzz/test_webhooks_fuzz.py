"""Every POST endpoint under hypothesis: forged and signed, well-formed and broken bodies.

The ASGI app runs in this process with every channel and the admin commands configured (SQLite,
jobs recorded rather than run, so only the edge is exercised). For each case: no 5xx; a request
that is not signed as its platform signs is refused (401/403) and changes no table; and the app
still answers /healthz at the end. `CSBOT_FUZZ_EXAMPLES` sets the cases per endpoint (default
2,000); runs are derandomized, so CI sees the same cases every time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from bots.runtime import build_runtime
from bots.web import create_app
from infra.settings import load_settings
from tests.conftest import TEST_BOT
from tests.support.databases import migrated_sqlite

EXAMPLES = int(os.environ.get("CSBOT_FUZZ_EXAMPLES", "2000"))
TG_TOKEN = "123456789:AAE-fuzz_token-value"
TG_SECRET = "fuzz-secret_0123456789"
SLACK_SECRET = "fuzz-signing-secret-0123456789"
TW_SID = "AC" + "3" * 32
TW_TOKEN = "fuzz-twilio-auth-token"
PUBLIC = "https://bot.example.com"
WA_SECRET = "fuzz-whatsapp-app-secret"
WA_PHONE = "106540352242922"
ADMIN = "UADMIN"
TABLES = ("conversations", "messages", "outbox", "feedback", "admin_audit", "handoffs", "rejected_requests", "replays",
          "optouts")

FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


class NoJobs:
    """Jobs are recorded, not run: the fuzz is about what the edge accepts."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[str, int]] = []

    def enqueue_inbound(self, message_id: int) -> None:
        self.enqueued.append(("inbound", message_id))

    def enqueue_delivery(self, outbound_id: int, *, delay: float = 0.0) -> None:
        self.enqueued.append(("delivery", outbound_id))

    def enqueue_desk(self, handoff_id: int, *, delay: float = 0.0) -> None:
        self.enqueued.append(("desk", handoff_id))

    def enqueue_admin(self, audit_id: int) -> None:
        self.enqueued.append(("admin", audit_id))


class App:
    """The app on its own event loop, driven synchronously so hypothesis can call it."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        config = load_settings(
            csbot_bot=TEST_BOT, database_url=migrated_sqlite(tmp / "fuzz.db"), redis_url=None, llm_base_url=None,
            telegram_bot_token=TG_TOKEN, telegram_webhook_secret=TG_SECRET, telegram_api_url="http://127.0.0.1:9",
            slack_bot_token="xoxb-fuzz", slack_signing_secret=SLACK_SECRET, slack_api_url="http://127.0.0.1:9/api/",
            slack_agent_channel="C0AGENTS", slack_admin_user_ids=ADMIN,
            twilio_account_sid=TW_SID, twilio_auth_token=TW_TOKEN, twilio_from_number="+15005550006",
            twilio_api_url="http://127.0.0.1:9", public_base_url=PUBLIC,
            whatsapp_access_token="EAAG-fuzz", whatsapp_app_secret=WA_SECRET, whatsapp_verify_token="fuzz-verify",
            whatsapp_phone_number_id=WA_PHONE, whatsapp_api_url="http://127.0.0.1:9/v21.0",
        )
        self.runtime = self.run(build_runtime(config, platform_channels=True, jobs=NoJobs(), migrate=True))
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(self.runtime)), base_url="http://test")

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        raw = {name: value.encode("utf-8") for name, value in headers.items()}  # header bytes as sent
        return self.run(self.client.post(path, content=body, headers=raw))

    def counts(self) -> dict[str, int]:
        query = text("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES))

        async def count() -> dict[str, int]:
            async with self.runtime.db.connect() as conn:
                return dict(zip(TABLES, (await conn.execute(query)).one(), strict=True))

        return self.run(count())

    def close(self) -> None:
        self.run(self.client.aclose())
        self.run(self.runtime.close())
        self.loop.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    logging.disable(logging.WARNING)  # thousands of expected refusals; formatting them is most of the time
    served = App(tmp_path_factory.mktemp("fuzz"))
    yield served
    assert served.run(served.client.get("/healthz")).status_code == 200, "the app stopped answering"
    served.close()
    logging.disable(logging.NOTSET)


# --- what platforms send, and what an attacker or a bug might ---------------------------------

NASTY = st.sampled_from(["\x00", "\ud800", "\udfff", "🙂", "\u202e", "'; DROP TABLE messages;--", "%00", "9" * 400,
                         "4111 1111 1111 1111", "<@UBOT>", "\n", "", "x" * 9000, "é" * 300])
TEXT = st.one_of(st.text(max_size=40), NASTY)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**400), max_value=10**400),
                   st.floats(allow_nan=False), TEXT)
JSON = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=20)


def mutated(template: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid payload with some fields (nested ones too) replaced by anything JSON can hold."""

    def paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        found = [prefix] if prefix else []
        if isinstance(value, dict):
            for key, child in value.items():
                found += paths(child, (*prefix, key))
        return found

    def replace(value: dict[str, Any], path: tuple[str, ...], new: Any) -> dict[str, Any]:
        copy = json.loads(json.dumps(value))
        node = copy
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = new
        return copy

    options = paths(template)
    return st.lists(st.tuples(st.sampled_from(options), JSON), min_size=1, max_size=3).map(
        lambda changes: _apply(template, changes, replace)
    )


def _apply(template: dict[str, Any], changes: list[tuple[tuple[str, ...], Any]], replace: Callable[..., Any]) -> Any:
    payload = template
    for path, new in changes:
        try:
            payload = replace(payload, path, new)
        except (KeyError, TypeError):
            continue  # an earlier change turned this path's parent into a scalar
    return payload


def dumped(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=True).encode()  # ensure_ascii: lone surrogates survive as \ud800


DEEP = st.integers(min_value=30, max_value=20_000).map(lambda n: b"[" * n + b"]" * n)
RAW = st.one_of(st.binary(max_size=300), DEEP, st.just(b"\xff\xfe\x00garbage"), st.just(b""))

now = int(time.time())
TG_UPDATE = {"update_id": 1, "message": {"message_id": 1, "date": now, "text": "hello",
                                         "chat": {"id": 42, "type": "private", "first_name": "A"},
                                         "from": {"id": 42, "is_bot": False, "first_name": "A"},
                                         "entities": [{"type": "bot_command", "offset": 0, "length": 5}]},
             "callback_query": {"id": "q1", "from": {"id": 42, "is_bot": False, "first_name": "A"}, "data": "vote:1:up",
                                "chat_instance": "c", "message": {"message_id": 2, "date": now,
                                                                  "chat": {"id": 42, "type": "private"}}}}
SLACK_EVENT = {"type": "event_callback", "event_id": "Ev1", "team_id": "T1", "challenge": "x",
               "event": {"type": "message", "channel": "D0CUST", "channel_type": "im", "user": "UCUST", "text": "hi",
                         "ts": "1.000100", "thread_ts": "", "files": [], "hidden": False},
               "authorizations": [{"user_id": "UBOT", "is_bot": True}]}
SLACK_CLICK = {"type": "block_actions", "trigger_id": "t1", "response_url": "http://127.0.0.1:9/r",
               "user": {"id": "UCUST"}, "channel": {"id": "D0CUST"}, "message": {"ts": "1.0001", "thread_ts": ""},
               "actions": [{"action_id": "csbot_vote:up", "value": "vote:1:up", "action_ts": "1"},
                           {"action_id": "csbot_reply:0", "value": "yes", "action_ts": "2"},
                           {"action_id": "csbot_handoff:claim", "value": "1", "action_ts": "3"}]}
SLACK_COMMAND = {"user_id": ADMIN, "text": "help", "channel_id": "C0AGENTS", "thread_ts": "", "trigger_id": "t1",
                 "response_url": "http://127.0.0.1:9/r", "command": "/csbot"}
SMS = {"MessageSid": "SM1", "From": "+14155550123", "To": "+15005550006", "Body": "hello", "NumMedia": "0"}
WA_DELIVERY = {"object": "whatsapp_business_account", "entry": [{"id": "W1", "changes": [{"field": "messages", "value": {
    "messaging_product": "whatsapp", "metadata": {"phone_number_id": WA_PHONE},
    "contacts": [{"wa_id": "16505551234", "profile": {"name": "A"}}],
    "messages": [{"from": "16505551234", "id": "wamid.1", "timestamp": str(now), "type": "text", "text": {"body": "hi"}}],
    "statuses": [{"id": "wamid.2", "status": "failed", "recipient_id": "16505551234", "errors": [{"code": 1, "title": "x"}]}],
}}]}]}
STATUS = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+14155550123", "ErrorCode": ""}

FORM_VALUE = st.one_of(TEXT.map(lambda s: s.encode("utf-8", "surrogatepass").decode("utf-8", "replace")), st.just(""))


def form_of(template: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    keys = st.sampled_from([*template, "Extra", "NumMedia", "OptOutType"])
    return st.dictionaries(keys, FORM_VALUE, max_size=4).map(lambda changes: {**template, **changes})


def command_texts() -> st.SearchStrategy[str]:
    words = st.sampled_from(["help", "status", "handoffs", "takeover", "release", "pause", "resume", "kb search",
                             "kb add", "kb suggestions", "kb approve", "kb reject", "stats", "resolve", "forget", "??"])
    return st.tuples(words, FORM_VALUE).map(lambda t: f"{t[0]} {t[1]}")


# --- signing -------------------------------------------------------------------------------------

SIGNED = st.sampled_from(["valid", "valid", "missing", "wrong", "stale", "huge-timestamp", "non-ascii"])


def slack_headers(body: bytes, how: str, content_type: str) -> dict[str, str]:
    ts = {"stale": str(now - 3600), "huge-timestamp": "9" * 400}.get(how, str(int(time.time())))
    digest = hmac.new(SLACK_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    if how == "wrong":
        digest = "0" * 64
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}
    if how == "non-ascii":
        headers["X-Slack-Signature"] = "v0=é" + digest[1:]
    if how == "missing":
        headers.pop("X-Slack-Signature")
    return headers


def twilio_headers(path: str, form: dict[str, str], how: str) -> dict[str, str]:
    signature = RequestValidator(TW_TOKEN).compute_signature(f"{PUBLIC}{path}", form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    if how in ("wrong", "stale", "huge-timestamp", "non-ascii"):
        headers["X-Twilio-Signature"] = "AAAA" + signature[4:]
    if how == "missing":
        headers.pop("X-Twilio-Signature")
    return headers


def check(app: App, path: str, body: bytes, headers: dict[str, str], signed: bool) -> None:
    before = None if signed else app.counts()
    response = app.post(path, body, headers)
    assert response.status_code < 500, f"{path} answered {response.status_code}: {response.text[:300]}"
    if not signed:
        assert response.status_code in (401, 403), f"{path}: unsigned request answered {response.status_code}"
        assert app.counts() == before, f"{path}: a refused request changed the database"


# --- one test per endpoint -----------------------------------------------------------------------


@FUZZ
@given(body=st.one_of(mutated(TG_UPDATE).map(dumped), JSON.map(dumped), RAW), how=SIGNED)
def test_telegram(app: App, body: bytes, how: str) -> None:
    headers = {"Content-Type": "application/json"}
    if how != "missing":
        headers["X-Telegram-Bot-Api-Secret-Token"] = TG_SECRET if how == "valid" else "wrong-secret"
    check(app, "/webhooks/telegram", body, headers, signed=how == "valid")


@FUZZ
@given(body=st.one_of(mutated(SLACK_EVENT).map(dumped), JSON.map(dumped), RAW), how=SIGNED)
def test_slack_events(app: App, body: bytes, how: str) -> None:
    check(app, "/webhooks/slack/events", body, slack_headers(body, how, "application/json"), signed=how == "valid")


@FUZZ
@given(payload=st.one_of(mutated(SLACK_CLICK).map(dumped), JSON.map(dumped), RAW), how=SIGNED)
def test_slack_interactions(app: App, payload: bytes, how: str) -> None:
    body = urlencode({"payload": payload.decode("utf-8", "replace")}).encode() if payload[:1] in (b"{", b"[") else payload
    check(app, "/webhooks/slack/interactions", body, slack_headers(body, how, "application/x-www-form-urlencoded"),
          signed=how == "valid")


@FUZZ
@given(form=form_of(SLACK_COMMAND), command=command_texts(), raw=st.one_of(st.none(), RAW), how=SIGNED)
def test_slack_commands(app: App, form: dict[str, str], command: str, raw: bytes | None, how: str) -> None:
    body = raw if raw is not None else urlencode({**form, "text": command}).encode()
    check(app, "/webhooks/slack/commands", body, slack_headers(body, how, "application/x-www-form-urlencoded"),
          signed=how == "valid")


@FUZZ
@given(form=form_of(SMS), how=SIGNED)
def test_twilio_sms(app: App, form: dict[str, str], how: str) -> None:
    path = "/webhooks/twilio/sms"
    check(app, path, urlencode(form).encode(), twilio_headers(path, form, how), signed=how == "valid")


@FUZZ
@given(form=form_of(STATUS), raw=st.one_of(st.none(), RAW), how=SIGNED)
def test_twilio_status(app: App, form: dict[str, str], raw: bytes | None, how: str) -> None:
    path = "/webhooks/twilio/status"
    body = raw if raw is not None else urlencode(form).encode()
    headers = twilio_headers(path, form, how)
    check(app, path, body, headers, signed=how == "valid" and raw is None)


@FUZZ
@given(body=st.one_of(mutated(WA_DELIVERY).map(dumped), JSON.map(dumped), RAW), how=SIGNED)
def test_whatsapp(app: App, body: bytes, how: str) -> None:
    digest = "sha256=" + hmac.new(WA_SECRET.encode(), body, hashlib.sha256).hexdigest()
    signature = {"wrong": "sha256=" + "0" * 64, "stale": digest.upper(), "huge-timestamp": "sha1=" + digest[7:47],
                 "non-ascii": "sha256=é" + digest[8:]}.get(how, digest)
    headers = {"Content-Type": "application/json"} | ({} if how == "missing" else {"X-Hub-Signature-256": signature})
    check(app, "/webhooks/whatsapp", body, headers, signed=how == "valid")
