"""All three platform channels at once, as production runs them: real PostgreSQL, real Redis,
a real Celery worker, the channels built from settings by the registry, webhooks signed as
each platform signs them, replies received by the fake platform servers through the SDKs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from bots.runtime import build_runtime
from bots.web import create_app
from infra.settings import load_settings
from tests.conftest import TEST_BOT, worker_queues
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.support.waiting import eventually
from tests.support.worker import worker_app

TG_TOKEN = "987654321:AAE-e2e_token-value-0123456789abcdef"
TG_SECRET = "e2e-secret_0123456789"
SLACK_SECRET = "e2e-signing-secret-0123456789"
SLACK_TOKEN = "xoxb-e2e-token"
TW_SID = "AC" + "2" * 32
TW_TOKEN = "e2e-twilio-auth-token"
TW_FROM = "+15005550006"
PUBLIC = "https://bot.example.com"


def telegram_update(update_id: int, text: str) -> dict[str, Any]:
    chat = {"id": 4242, "type": "private", "first_name": "Ana"}
    return {"update_id": update_id, "message": {"message_id": update_id, "date": int(time.time()), "chat": chat,
                                                 "from": {"id": 4242, "is_bot": False, "first_name": "Ana"}, "text": text}}


def slack_dm(text: str) -> dict[str, Any]:
    ts = f"{int(time.time())}.000100"
    event = {"type": "message", "channel": "D0E2E", "user": "UCUST", "text": text, "ts": ts, "event_ts": ts,
             "channel_type": "im", "team": "T0001"}
    return {"type": "event_callback", "team_id": "T0001", "api_app_id": "A1", "event": event,
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}]}


def slack_headers(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SLACK_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": "application/json"}


def twilio_form(text: str) -> tuple[bytes, dict[str, str]]:
    sid = "SM" + uuid.uuid4().hex
    params = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": TW_SID, "From": "+14155550123", "To": TW_FROM,
              "Body": text, "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01"}
    signature = RequestValidator(TW_TOKEN).compute_signature(f"{PUBLIC}/webhooks/twilio/sms", params)
    return urlencode(params).encode(), {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.slow
async def test_three_channels_through_postgres_redis_and_celery(clean_postgres: str, clean_redis: str) -> None:
    telegram = FakeTelegramAPI(TG_TOKEN).start()
    twilio = FakeTwilioAPI(TW_SID, TW_TOKEN).start()
    slack = await FakeSlackApi(token=SLACK_TOKEN).start()
    settings = load_settings(
        csbot_bot=TEST_BOT, database_url=clean_postgres, redis_url=clean_redis, llm_base_url=None,
        telegram_bot_token=TG_TOKEN, telegram_webhook_secret=TG_SECRET, telegram_api_url=telegram.url,
        slack_bot_token=SLACK_TOKEN, slack_signing_secret=SLACK_SECRET, slack_api_url=f"{slack.url}/api/",
        twilio_account_sid=TW_SID, twilio_auth_token=TW_TOKEN, twilio_from_number=TW_FROM,
        twilio_api_url=twilio.url, public_base_url=PUBLIC,
    )
    runtime = await build_runtime(settings, platform_channels=True, migrate=False)
    assert sorted(runtime.channels) == ["slack", "sms", "telegram"]
    app = worker_app(settings, None, platform_channels=True)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://test")
    try:
        with start_worker(app, pool="threads", concurrency=3, perform_ping_check=False, queues=worker_queues(settings), shutdown_timeout=30):
            tg_body = json.dumps(telegram_update(1001, "I lost my card")).encode()
            sl_body = json.dumps(slack_dm("when are you open?")).encode()
            tw_body, tw_headers = twilio_form("我的账户被盗了，该怎么办？")
            for _ in range(2):  # every platform re-delivers; the second copy must change nothing
                responses = await asyncio.gather(
                    client.post("/webhooks/telegram", content=tg_body,
                                headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"}),
                    client.post("/webhooks/slack/events", content=sl_body, headers=slack_headers(sl_body)),
                    client.post("/webhooks/twilio/sms", content=tw_body, headers=tw_headers),
                )
                assert [r.status_code for r in responses] == [200, 200, 200]

            try:
                await eventually(lambda: telegram.sent() and slack.calls_to("chat.postMessage") and twilio.messages, timeout=45)
            except AssertionError:
                async with runtime.db.connect() as conn:
                    rows = (await conn.execute(text("SELECT channel, status, last_error FROM outbox"))).all()
                raise AssertionError(f"not every platform got its reply; outbox: {rows}") from None
            await asyncio.sleep(2)  # room for a duplicate to appear
            [tg] = telegram.sent()
            assert str(tg["chat_id"]) == "4242" and "Freeze your card" in tg["text"]
            assert telegram.calls_to("sendChatAction"), "typing signal shown while the turn ran"
            [sl] = [c for c in slack.calls_to("chat.postMessage") if c.accepted]
            assert sl.params["channel"] == "D0E2E" and "Monday to Friday" in sl.params["text"]
            [sms] = twilio.messages
            assert sms.to == "+14155550123" and sms.from_ == TW_FROM and "冻结账户" in sms.body

        async with runtime.db.connect() as conn:
            inbound = (await conn.execute(text("SELECT channel, count(*) FROM messages GROUP BY channel ORDER BY channel"))).all()
            statuses = (await conn.execute(text("SELECT channel, status FROM outbox ORDER BY channel"))).all()
        assert [tuple(r) for r in inbound] == [("slack", 1), ("sms", 1), ("telegram", 1)]
        assert [tuple(r) for r in statuses] == [("slack", "sent"), ("sms", "sent"), ("telegram", "sent")]
    finally:
        await client.aclose()
        await runtime.close()
        await slack.stop()
        telegram.stop()
        twilio.stop()
