"""The edge cases that used to be 500s, one by one: forged Slack requests whatever their bytes,
and signed input the database could not store (NUL, lone surrogates) on PostgreSQL."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bots.runtime import build_runtime
from bots.web import create_app
from infra.settings import load_settings
from tests.channels.slack_support import SIGNING_SECRET, dm_message, envelope, signed_headers, slack_system
from tests.conftest import TEST_BOT
from tests.fuzz.test_webhooks_fuzz import NoJobs

PATHS = ("/webhooks/slack/events", "/webhooks/slack/commands", "/webhooks/slack/interactions")
FORGED = [
    ("non-UTF-8 body", b"\xff\xfe\xfa{", None),
    ("400-digit timestamp", b"{}", {"X-Slack-Request-Timestamp": "9" * 400}),
    ("negative timestamp", b"{}", {"X-Slack-Request-Timestamp": "-1"}),
    ("no timestamp", b"{}", {"X-Slack-Request-Timestamp": ""}),
    ("no signature", b"{}", {"X-Slack-Signature": ""}),
    ("non-ASCII signature", b"{}", {"X-Slack-Signature": "v0=\xe9"}),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("why", "body", "override"), FORGED, ids=[f[0] for f in FORGED])
async def test_forged_slack_requests_are_refused_whatever_their_bytes(
    tmp_path: Path, path: str, why: str, body: bytes, override: dict[str, str] | None
) -> None:
    async with slack_system(tmp_path) as system:
        headers = {k: v.encode("latin-1") for k, v in {**signed_headers(b"other body"), **(override or {})}.items()}
        response = await system.http.post(path, content=body, headers=headers)
        assert response.status_code == 401, why
        assert await system.count("messages") == 0
        assert await system.count("rejected_requests") == 0


async def test_a_signed_event_with_nul_and_lone_surrogates_is_stored_clean_on_postgres(clean_postgres: str) -> None:
    settings = load_settings(csbot_bot=TEST_BOT, database_url=clean_postgres, redis_url=None, llm_base_url=None,
                             slack_bot_token="xoxb-edge", slack_signing_secret=SIGNING_SECRET,
                             slack_api_url="http://127.0.0.1:9/api/")
    runtime = await build_runtime(settings, platform_channels=True, jobs=NoJobs(), migrate=False)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://test")
    try:
        event = dm_message("card\x00 lost \ud800 help", user="U\x00CUST")
        body = json.dumps(envelope(event), ensure_ascii=True).encode()
        response = await client.post("/webhooks/slack/events", content=body, headers=signed_headers(body))
        assert response.status_code == 200
        nested = json.dumps(envelope({"type": "message", "x": json.loads("[" * 100 + "]" * 100)})).encode()
        broken = await client.post("/webhooks/slack/events", content=nested, headers=signed_headers(nested))
        assert broken.status_code == 400 and broken.headers["X-Slack-No-Retry"] == "1"
        async with runtime.db.connect() as conn:
            stored = (await conn.execute(text("SELECT sender_id, text FROM messages"))).all()
            rejected = (await conn.execute(text("SELECT channel, reason, body_bytes FROM rejected_requests"))).all()
        assert [tuple(r) for r in stored] == [("UCUST", "card lost help")]
        assert [(c, b) for c, _, b in rejected] == [("slack", len(nested))] and "deeper than 32" in rejected[0][1]
    finally:
        await client.aclose()
        await runtime.close()
