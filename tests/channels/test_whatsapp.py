"""WhatsApp Cloud API through the whole system: Meta's signed webhooks in, the fake Graph API out.

The fake enforces what the platform does (bearer token, body shape, the 24-hour
customer-service window), so a reply the channel sends outside the window is refused there too.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.whatsapp.channel import WhatsAppChannel, WhatsAppConfig
from channels.whatsapp.signature import signature_of
from infra.db.delivery_status import SqlDeliveryStatus
from tests.channels.conftest import BOTH_BACKENDS, System, running_system
from tests.fakes.whatsapp_api import FakeWhatsAppAPI
from tests.support.databases import migrated_sqlite

TOKEN = "EAAG-test-access-token"
APP_SECRET = "whatsapp-app-secret-for-tests"
VERIFY_TOKEN = "verify-me-0123"
PHONE_ID = "106540352242922"
CUSTOMER = "16505551234"
HOOK = "/webhooks/whatsapp"
TEMPLATE = "answer_after_window"


@pytest.fixture
def graph() -> Iterator[FakeWhatsAppAPI]:
    with FakeWhatsAppAPI(TOKEN, PHONE_ID) as server:
        yield server


def settings_for(graph: FakeWhatsAppAPI, **extra: Any) -> dict[str, Any]:
    return {"whatsapp_access_token": TOKEN, "whatsapp_app_secret": APP_SECRET, "whatsapp_verify_token": VERIFY_TOKEN,
            "whatsapp_phone_number_id": PHONE_ID, "whatsapp_api_url": graph.api_url, **extra}


async def start(tmp_path: Path, graph: FakeWhatsAppAPI, request: Any, backend: str = "sqlite", **config: Any) -> Any:
    def make(sessions: Any, limiter: Any) -> WhatsAppChannel:
        wa = WhatsAppConfig(access_token=TOKEN, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN,
                            phone_number_id=PHONE_ID, api_url=graph.api_url, **config)
        return WhatsAppChannel(wa, limiter, SqlDeliveryStatus(sessions))

    return running_system(tmp_path, make, backend=backend, request=request, **settings_for(graph))


@pytest.fixture
async def system(request: pytest.FixtureRequest, tmp_path: Path, graph: FakeWhatsAppAPI, channel_backend: str) -> AsyncIterator[System]:
    async with await start(tmp_path, graph, request, channel_backend) as running:
        yield running


def delivery(*, messages: list[dict[str, Any]] = (), statuses: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    value: dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_ID}}
    if messages:
        value["contacts"] = [{"profile": {"name": "Ana Customer"}, "wa_id": CUSTOMER}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}]}


def text_message(body: str, *, wamid: str = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRB", at: float | None = None) -> dict[str, Any]:
    return {"from": CUSTOMER, "id": wamid, "timestamp": str(int(time.time() if at is None else at)), "type": "text",
            "text": {"body": body}}


async def post(system: System, payload: Any, *, secret: str = APP_SECRET, signature: str | None = None) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    if signature != "":
        headers["X-Hub-Signature-256"] = signature or signature_of(body, secret)
    return await system.client.post(HOOK, content=body, headers=headers)


# --- the subscription handshake --------------------------------------------------------------


async def test_get_verification_echoes_the_challenge_only_for_our_verify_token(system: System) -> None:
    ok = await system.client.get(HOOK, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert (ok.status_code, ok.text) == (200, "1158201444")
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
                   {"hub.challenge": "1"}):
        refused = await system.client.get(HOOK, params=params)
        assert refused.status_code == 403 and "1" not in refused.text.split('"')[-1]


# --- in and out ------------------------------------------------------------------------------


async def test_a_text_message_in_gives_one_graph_api_reply_out(system: System, graph: FakeWhatsAppAPI) -> None:
    graph.customer_wrote(CUSTOMER)
    response = await post(system, delivery(messages=[text_message("I lost my card")]))
    assert response.status_code == 200
    await system.settle()

    [sent] = graph.sent(CUSTOMER)
    assert sent["type"] == "text" and sent["messaging_product"] == "whatsapp"
    assert sent["text"]["body"].strip() and "**" not in sent["text"]["body"]
    assert all(call.authorization == f"Bearer {TOKEN}" and call.phone_number_id == PHONE_ID for call in graph.calls)
    [stored] = await system.messages()
    assert (stored.platform_message_id, stored.conversation_key, stored.text) == (
        "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRB", CUSTOMER, "I lost my card")
    [row] = await system.outbox()
    assert row.status == "sent" and row.platform_message_id.startswith("wamid.FAKE")


@BOTH_BACKENDS
async def test_a_delivery_meta_sends_again_is_stored_and_answered_once(system: System, graph: FakeWhatsAppAPI) -> None:
    graph.customer_wrote(CUSTOMER)
    payload = delivery(messages=[text_message("What are the card fees?")])
    responses = await asyncio.gather(*(post(system, payload) for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    await system.settle()
    assert await system.count("messages") == 1
    assert len(graph.sent(CUSTOMER)) == 1


@pytest.mark.parametrize(
    ("how", "status"),
    [({"signature": ""}, 401), ({"secret": "someone-elses-secret"}, 403), ({"signature": "sha256=" + "0" * 64}, 403),
     ({"signature": "sha1=abc"}, 403), ({"signature": "sha256=é"}, 403)],
    ids=["unsigned", "wrong-secret", "forged", "other-algorithm", "non-ascii"],
)
async def test_unsigned_or_forged_deliveries_are_refused_and_nothing_is_stored(
    system: System, graph: FakeWhatsAppAPI, how: dict[str, str], status: int
) -> None:
    body = json.dumps(delivery(messages=[text_message("I lost my card")])).encode()
    if how.get("signature") == "sha256=é":
        headers = {"X-Hub-Signature-256": "sha256=é".encode()}
        response = await system.client.post(HOOK, content=body, headers=headers)
    else:
        response = await post(system, body, **how)
    assert response.status_code == status
    await system.settle()
    assert await system.count("messages") == 0 and await system.count("rejected_requests") == 0
    assert graph.calls == []


async def test_a_signed_but_broken_delivery_is_dead_lettered_and_acknowledged(system: System, graph: FakeWhatsAppAPI) -> None:
    for broken in (b"not json", json.dumps(delivery(messages=[{"from": CUSTOMER, "type": "text"}])).encode()):
        response = await post(system, broken)
        assert response.status_code == 200  # Meta would repeat anything else for days
    assert await system.count("rejected_requests") == 2
    assert await system.count("messages") == 0


# --- the 24-hour customer-service window -----------------------------------------------------


async def test_a_reply_to_a_message_older_than_24_hours_fails_with_the_reason_and_is_not_sent(
    system: System, graph: FakeWhatsAppAPI
) -> None:
    old = time.time() - 25 * 3600
    graph.customer_wrote(CUSTOMER, at=old)
    await post(system, delivery(messages=[text_message("I lost my card", at=old)]))
    await system.settle()
    assert graph.calls == []  # refused before the platform was asked
    [row] = await system.outbox()
    assert row.status == "failed"
    assert "24-hour customer-service window" in row.last_error and "WHATSAPP_TEMPLATE" in row.last_error


async def test_a_free_form_message_the_platform_refuses_for_the_window_is_failed_with_the_reason(
    system: System, graph: FakeWhatsAppAPI
) -> None:
    # The message looks recent, but the platform knows of no customer message in 24 hours.
    await post(system, delivery(messages=[text_message("I lost my card")]))
    await system.settle()
    [call] = graph.calls
    assert call.status == 400 and call.body["type"] == "text"
    [row] = await system.outbox()
    assert row.status == "failed" and "refused by the platform" in row.last_error


async def test_with_a_template_configured_the_answer_goes_out_as_that_template(
    request: pytest.FixtureRequest, tmp_path: Path, graph: FakeWhatsAppAPI
) -> None:
    async with await start(tmp_path, graph, request, template=TEMPLATE, template_language="en_US") as system:
        old = time.time() - 30 * 3600
        await post(system, delivery(messages=[text_message("I lost my card", at=old)]))
        await system.settle()
        [sent] = graph.sent(CUSTOMER)
        assert sent["type"] == "template"
        assert sent["template"]["name"] == TEMPLATE and sent["template"]["language"] == {"code": "en_US"}
        [parameter] = sent["template"]["components"][0]["parameters"]
        [row] = await system.outbox()
        assert parameter["text"].strip() and row.status == "sent"
        assert [c.body["type"] for c in graph.calls] == ["template"]


# --- statuses --------------------------------------------------------------------------------


async def test_statuses_become_delivery_receipts_on_the_outbox_row(system: System, graph: FakeWhatsAppAPI) -> None:
    graph.customer_wrote(CUSTOMER)
    await post(system, delivery(messages=[text_message("I lost my card")]))
    await system.settle()
    [row] = await system.outbox()
    wamid = row.platform_message_id
    sent = {"id": wamid, "status": "sent", "timestamp": str(int(time.time())), "recipient_id": CUSTOMER}
    assert (await post(system, delivery(statuses=[sent]))).status_code == 200
    assert (await system.outbox())[0].status == "sent"
    assert (await post(system, delivery(statuses=[{**sent, "status": "delivered"}]))).status_code == 200
    assert (await system.outbox())[0].status == "delivered"
    assert await system.count("messages") == 1  # a status is never a customer message


async def test_a_failed_status_records_the_platform_error(system: System, graph: FakeWhatsAppAPI) -> None:
    graph.customer_wrote(CUSTOMER)
    await post(system, delivery(messages=[text_message("I lost my card")]))
    await system.settle()
    [row] = await system.outbox()
    failed = {"id": row.platform_message_id, "status": "failed", "recipient_id": CUSTOMER,
              "errors": [{"code": 131026, "title": "Message undeliverable"}]}
    await post(system, delivery(statuses=[failed]))
    [row] = await system.outbox()
    assert (row.status, row.last_error) == ("failed", "whatsapp failed: 131026 Message undeliverable")


# --- settings --------------------------------------------------------------------------------


async def test_its_settings_turn_it_on_through_the_registry_and_a_half_set_one_names_what_is_missing(
    tmp_path: Path, graph: FakeWhatsAppAPI
) -> None:
    from bots.doctor import configured
    from bots.runtime import build_runtime
    from core.errors import ConfigError
    from infra.settings import load_settings
    from tests.conftest import TEST_BOT
    from tests.fuzz.test_webhooks_fuzz import NoJobs

    base = {"csbot_bot": TEST_BOT, "database_url": migrated_sqlite(tmp_path / "wa.db"), "redis_url": None, "llm_base_url": None}
    settings = load_settings(**base, **settings_for(graph))
    assert configured(settings)["whatsapp"] == f"on ({graph.api_url} phone number {PHONE_ID})"
    runtime = await build_runtime(settings, platform_channels=True, jobs=NoJobs(), migrate=True)
    try:
        assert isinstance(runtime.channels["whatsapp"], WhatsAppChannel)
        assert {(r.method, r.path) for r in runtime.routes} >= {("GET", HOOK), ("POST", HOOK)}
    finally:
        await runtime.close()
    half = {k: v for k, v in settings_for(graph).items() if k != "whatsapp_verify_token"}
    with pytest.raises(ConfigError, match="WHATSAPP_VERIFY_TOKEN: required when WHATSAPP_ACCESS_TOKEN is set"):
        await build_runtime(load_settings(**base, **half), platform_channels=True, jobs=NoJobs(), migrate=True)
