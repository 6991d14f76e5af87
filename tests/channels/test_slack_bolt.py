"""Slack's URLs are served by slack-bolt, and where Bolt cannot keep an invariant, why.

The first tests show Bolt at work behind the channel's routes: `ssl_check` and
`url_verification` are answered by Bolt's own middleware, a listener that fails is a 500 (so
Slack retries, and nothing was acked that was not stored), and a stored event is answered after
it is in the database. The last test shows why the channel checks the signature and the body
itself before Bolt sees a request: Bolt's Starlette handler parses the body before verifying it,
so forged bytes raise instead of being refused.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from channels.slack.bolt import bolt_app
from channels.slack.config import SlackConfig
from core.intake import Intake
from tests.channels.slack_support import SIGNING_SECRET, SlackSystem, dm_message, envelope, signed_headers, slack_system

COMMANDS = "/webhooks/slack/commands"


@pytest.fixture
async def slack(tmp_path: Path) -> SlackSystem:  # type: ignore[misc]
    async with slack_system(tmp_path) as system:
        yield system


async def test_ssl_check_on_the_commands_url_is_answered_by_bolt(slack: SlackSystem) -> None:
    body = urlencode({"ssl_check": "1", "token": "legacy"}).encode()
    headers = {**signed_headers(body), "Content-Type": "application/x-www-form-urlencoded"}
    response = await slack.http.post(COMMANDS, content=body, headers=headers)
    assert response.status_code == 200 and response.text == ""
    assert await slack.count("admin_audit") == 0


async def test_url_verification_is_answered_by_bolt(slack: SlackSystem) -> None:
    response = await slack.post({"type": "url_verification", "challenge": "c-123", "token": "legacy"})
    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}


async def test_a_listener_that_cannot_store_the_message_answers_500_so_slack_retries(
    slack: SlackSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_store(self: Intake, message: object) -> None:
        raise ConnectionError("database unreachable")

    event = envelope(dm_message("I lost my card"))
    monkeypatch.setattr(Intake, "accept", broken_store)
    assert (await slack.post(event)).status_code == 500
    monkeypatch.undo()
    assert await slack.count("messages") == 0

    retried = await slack.post(event, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})
    assert retried.status_code == 200
    assert await slack.count("messages") == 1


async def test_the_200_comes_after_the_message_is_stored(slack: SlackSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    seen_at_ack: list[int] = []
    original = Intake.accept

    async def accept_then_count(self: Intake, message: object):  # type: ignore[no-untyped-def]
        accepted = await original(self, message)  # type: ignore[arg-type]
        seen_at_ack.append(await slack.count("messages"))
        return accepted

    monkeypatch.setattr(Intake, "accept", accept_then_count)
    response = await slack.post(envelope(dm_message("I lost my card")))
    assert response.status_code == 200 and seen_at_ack == [1]


@pytest.mark.parametrize("body", [b"\xff\xfe not utf-8", b"[" * 5000 + b"]" * 5000, b"{not json"],
                         ids=["non-utf-8", "deep-nesting", "broken-json"])
async def test_bolts_own_starlette_handler_raises_on_forged_garbage_before_verifying_it(body: bytes) -> None:
    """Why the channel verifies first: this request is unsigned, so the right answer is 401."""
    config = SlackConfig(bot_token="xoxb-test", signing_secret=SIGNING_SECRET)
    app = bolt_app(config, AsyncWebClient(token=config.bot_token, base_url="http://127.0.0.1:9/api/"))
    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request):  # type: ignore[no-untyped-def]
        return await handler.handle(request)

    web = Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
    transport = httpx.ASGITransport(app=web, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/slack/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 500  # not 401: the body was decoded and parsed before any check


async def test_the_same_forged_garbage_is_refused_401_by_the_channel(slack: SlackSystem) -> None:
    for body in (b"\xff\xfe not utf-8", b"[" * 5000 + b"]" * 5000, b"{not json"):
        response = await slack.post(body, sign=False, headers={"X-Slack-Signature": "v0=" + "0" * 64,
                                                               "X-Slack-Request-Timestamp": "1700000000"})
        assert response.status_code == 401
    assert await slack.count("rejected_requests") == 0
