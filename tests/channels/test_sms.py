"""The SMS (Twilio) channel end to end: webhooks posted to the ASGI app signed exactly as
Twilio signs them, replies sent by twilio-python to the fake Twilio REST API, opt-outs and
delivery receipts checked in the database."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from channels.shaping import sms_size
from channels.sms.channel import SmsChannel, SmsConfig, keyword
from core.delivery_status import ReceiptOutcome
from core.errors import ConfigError, PermanentDeliveryError, RateLimited, TransientDeliveryError
from core.messages import Button, OutboundMessage
from infra.db.delivery_status import SqlDeliveryStatus
from infra.db.optouts import SqlOptOuts
from tests.channels.conftest import (
    BOTH_BACKENDS,
    sms_channel,
    MEDIA_ONLY_EN,
    PUBLIC_BASE,
    TW_FROM,
    TW_SID,
    TW_TOKEN,
    MemoryOptOuts,
    OpenLimiter,
    RecordingStatuses,
    System,
    sms_config,
)
from tests.fakes.twilio_api import FakeTwilioAPI, signed_form

SMS_HOOK = "/webhooks/twilio/sms"
STATUS_HOOK = "/webhooks/twilio/status"
CUSTOMER = "+15557654321"
WHATSAPP_CUSTOMER = "whatsapp:+447700900123"
_sids = itertools.count(1)


def inbound_params(body: str, *, sender: str = CUSTOMER, **extra: str) -> dict[str, str]:
    """The parameters Twilio posts for an incoming message."""
    sid = f"SM{uuid.uuid4().hex}"
    to = f"whatsapp:{TW_FROM}" if sender.startswith("whatsapp:") else TW_FROM
    params = {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "", "FromZip": "",
        "SmsSid": sid, "FromState": "CA", "SmsStatus": "received", "FromCity": "", "Body": body, "FromCountry": "US",
        "To": to, "ToZip": "", "NumSegments": "1", "MessageSid": sid, "AccountSid": TW_SID, "From": sender,
        "ApiVersion": "2010-04-01",
    }
    params.update(extra)
    return params


async def post(system: System, path: str, params: dict[str, str], *, sign_url: str | None = None,
               token: str = TW_TOKEN, signature: str | None = None, signed: bool = True) -> Any:
    body, headers = signed_form(token, sign_url or f"{PUBLIC_BASE}{path}", params)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    if not signed:
        del headers["X-Twilio-Signature"]
    return await system.client.post(path, content=body, headers=headers)


make_channel = sms_channel


@pytest.fixture
def system(sms_system: System) -> System:
    return sms_system


async def opted_out(system: System, address: str) -> bool:
    rows = await system.rows("SELECT opted_out FROM optouts WHERE channel='sms' AND address=:a", a=address)
    return bool(rows and rows[0][0])


def reply(text_: str, *, to: str = CUSTOMER, buttons: tuple[Button, ...] = (), language: str = "en") -> OutboundMessage:
    return OutboundMessage(id=next(_sids), channel="sms", conversation_key=to, text=text_,
                           idempotency_key=f"reply:{uuid.uuid4().hex}", language=language, buttons=buttons)


def twiml_empty(response: Any) -> bool:
    return response.headers["content-type"].startswith("text/xml") and response.text.endswith("<Response />")


# --- inbound → one reply ----------------------------------------------------------------------


@BOTH_BACKENDS
async def test_message_in_one_plain_reply_out_from_our_number(system: System, twilio_api: FakeTwilioAPI) -> None:
    response = await post(system, SMS_HOOK, inbound_params("How do I freeze my card?"))
    assert response.status_code == 200
    assert twiml_empty(response)
    await system.settle()

    [sent] = twilio_api.sent_to(CUSTOMER)
    assert sent.from_ == TW_FROM
    assert sent.body.strip() and "**" not in sent.body
    assert sent.status_callback == f"{PUBLIC_BASE}{STATUS_HOOK}"
    assert all(call.authorized for call in twilio_api.calls)
    [row] = await system.outbox()
    assert (row.status, row.platform_message_id) == ("sent", sent.sid)


@BOTH_BACKENDS
async def test_five_concurrent_duplicate_deliveries_give_one_reply(system: System, twilio_api: FakeTwilioAPI) -> None:
    params = inbound_params("What are the card fees?")
    responses = await asyncio.gather(*(post(system, SMS_HOOK, params) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    await system.settle()
    assert await system.count("messages") == 1
    assert len(twilio_api.sent_to(CUSTOMER)) == 1


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ({"signed": False}, 401),
        ({"signature": "bm90IGEgc2lnbmF0dXJl"}, 403),
        ({"token": "someone-elses-token"}, 403),
        ({"sign_url": f"http://test{SMS_HOOK}"}, 403),  # signed for the URL the app sees, not the public one
        ({"sign_url": f"{PUBLIC_BASE}/webhooks/twilio/other"}, 403),
    ],
    ids=["unsigned", "forged", "wrong-token", "internal-url", "other-path"],
)
async def test_unsigned_forged_or_wrong_url_requests_are_refused_and_nothing_stored(
    system: System, twilio_api: FakeTwilioAPI, how: dict[str, Any], status: int
) -> None:
    response = await post(system, SMS_HOOK, inbound_params("STOP"), **how)
    assert response.status_code == status
    response = await post(system, SMS_HOOK, inbound_params("hello"), **how)
    assert response.status_code == status
    await system.settle()
    assert await system.count("messages") == 0
    assert await system.count("conversations") == 0
    assert await system.count("optouts") == 0
    assert twilio_api.calls == []


async def test_tampered_parameter_breaks_the_signature(system: System) -> None:
    params = inbound_params("hello")
    body, headers = signed_form(TW_TOKEN, f"{PUBLIC_BASE}{SMS_HOOK}", params)
    tampered = body.replace(b"Body=hello", b"Body=hellO")
    response = await system.client.post(SMS_HOOK, content=tampered, headers=headers)
    assert response.status_code == 403
    assert await system.count("messages") == 0


@BOTH_BACKENDS
async def test_twilio_429_is_delivered_after_the_retry_delay_exactly_once(system: System, twilio_api: FakeTwilioAPI) -> None:
    twilio_api.too_many_requests()
    await post(system, SMS_HOOK, inbound_params("Can I change my PIN?"))
    await system.settle()

    assert len(twilio_api.calls) == 2
    assert twilio_api.calls[1].at - twilio_api.calls[0].at >= 0.9
    assert len(twilio_api.sent_to(CUSTOMER)) == 1
    [row] = await system.outbox()
    assert row.status == "sent"


# --- opt-out keywords -------------------------------------------------------------------------


@BOTH_BACKENDS
async def test_stop_opts_out_and_later_replies_fail_with_the_reason(system: System, twilio_api: FakeTwilioAPI) -> None:
    response = await post(system, SMS_HOOK, inbound_params("Stop"))
    assert response.status_code == 200
    assert twiml_empty(response)
    await system.settle()
    assert await system.count("messages") == 0  # the keyword never reaches the engine
    assert await opted_out(system, CUSTOMER)

    await post(system, SMS_HOOK, inbound_params("what are the fees?"))
    await system.settle()
    assert twilio_api.sent_to(CUSTOMER) == []
    [row] = await system.outbox()
    assert row.status == "failed"
    assert row.last_error == "recipient opted out"


async def test_start_opts_back_in(system: System, twilio_api: FakeTwilioAPI) -> None:
    await post(system, SMS_HOOK, inbound_params("UNSUBSCRIBE"))
    response = await post(system, SMS_HOOK, inbound_params("start"))
    assert twiml_empty(response)
    assert not await opted_out(system, CUSTOMER)
    assert await system.count("messages") == 0

    await post(system, SMS_HOOK, inbound_params("what are the fees?"))
    await system.settle()
    assert len(twilio_api.sent_to(CUSTOMER)) == 1


async def test_yes_from_a_subscribed_customer_is_an_answer_not_a_keyword(system: System) -> None:
    await post(system, SMS_HOOK, inbound_params("Yes"))
    [stored] = await system.messages()
    assert stored.text == "Yes"


async def test_help_is_answered_in_twiml_and_not_stored(system: System, twilio_api: FakeTwilioAPI) -> None:
    response = await post(system, SMS_HOOK, inbound_params("HELP"))
    assert response.status_code == 200
    assert "<Message>" in response.text and "STOP" in response.text
    assert await system.count("messages") == 0
    assert twilio_api.calls == []


async def test_twilio_21610_marks_the_number_opted_out(system: System, twilio_api: FakeTwilioAPI) -> None:
    twilio_api.unsubscribe(CUSTOMER)  # opted out at Twilio before we saw the STOP
    await post(system, SMS_HOOK, inbound_params("hello"))
    await system.settle()
    [row] = await system.outbox()
    assert row.status == "failed"
    assert "21610" in row.last_error
    assert await opted_out(system, CUSTOMER)


# --- content ----------------------------------------------------------------------------------


async def test_mms_without_text_gets_the_text_only_answer(system: System, twilio_api: FakeTwilioAPI) -> None:
    params = inbound_params("", NumMedia="1", MediaUrl0="https://api.twilio.com/media/ME1", MediaContentType0="image/jpeg")
    await post(system, SMS_HOOK, params)
    await system.settle()
    [stored] = await system.messages()
    assert stored.kind == "media"
    [sent] = twilio_api.sent_to(CUSTOMER)
    assert sent.body == MEDIA_ONLY_EN


async def test_empty_message_is_acknowledged_and_ignored(system: System) -> None:
    response = await post(system, SMS_HOOK, inbound_params("   "))
    assert response.status_code == 200
    assert await system.count("messages") == 0


async def test_whatsapp_round_trip(system: System, twilio_api: FakeTwilioAPI) -> None:
    await post(system, SMS_HOOK, inbound_params("Hi, what are the card fees?", sender=WHATSAPP_CUSTOMER, ProfileName="Ada"))
    await system.settle()
    [stored] = await system.messages()
    assert stored.conversation_key == WHATSAPP_CUSTOMER
    [sent] = twilio_api.sent_to(WHATSAPP_CUSTOMER)
    assert sent.from_ == f"whatsapp:{TW_FROM}"


async def test_a_5000_character_answer_is_capped_with_a_note(twilio_api: FakeTwilioAPI) -> None:
    channel = SmsChannel(sms_config(twilio_api), OpenLimiter(), MemoryOptOuts(), RecordingStatuses())
    answer = " ".join(f"Sentence number {i} explains one **more** detail." for i in range(120))
    assert len(answer) > 5000
    buttons = (Button("Yes", "yes"), Button("No", "no"))

    await channel.send(reply(answer, buttons=buttons))

    [sent] = twilio_api.sent_to(CUSTOMER)
    size = sms_size(sent.body)
    assert size.encoding == "GSM-7"
    assert size.segments <= 4
    assert "Shortened" in sent.body
    assert sent.body.endswith("Reply 1 for Yes, 2 for No.")
    assert "**" not in sent.body
    first_line = sent.body.split("\n")[0]
    assert first_line.endswith("detail.")  # cut at a sentence end, not mid-word


async def test_chinese_answer_is_capped_in_ucs2_segments(twilio_api: FakeTwilioAPI) -> None:
    channel = SmsChannel(sms_config(twilio_api, max_segments=2), OpenLimiter(), MemoryOptOuts(), RecordingStatuses())
    await channel.send(reply("您的银行卡年费为零。" * 40, language="zh"))
    [sent] = twilio_api.sent_to(CUSTOMER)
    assert sms_size(sent.body).encoding == "UCS-2"
    assert sms_size(sent.body).segments <= 2
    assert "缩短" in sent.body


async def test_whatsapp_is_capped_by_characters_not_segments(twilio_api: FakeTwilioAPI) -> None:
    channel = SmsChannel(sms_config(twilio_api), OpenLimiter(), MemoryOptOuts(), RecordingStatuses())
    await channel.send(reply("word " * 200, to=WHATSAPP_CUSTOMER))  # 1000 chars: fine on WhatsApp
    [sent] = twilio_api.sent_to(WHATSAPP_CUSTOMER)
    assert sent.body == ("word " * 200).strip()


async def test_send_errors_map_to_the_delivery_error_tree(twilio_api: FakeTwilioAPI) -> None:
    optouts = MemoryOptOuts()
    channel = SmsChannel(sms_config(twilio_api, rate_limit_retry_after=2.5), OpenLimiter(), optouts, RecordingStatuses())
    twilio_api.too_many_requests()
    with pytest.raises(RateLimited) as limited:
        await channel.send(reply("hi"))
    assert limited.value.retry_after == 2.5

    twilio_api.fail_next(status=503, code=20503, message="Service Unavailable")
    with pytest.raises(TransientDeliveryError):
        await channel.send(reply("hi"))

    with pytest.raises(PermanentDeliveryError, match="invalid"):
        await channel.send(reply("hi", to="+1"))

    twilio_api.unsubscribe(CUSTOMER)
    with pytest.raises(PermanentDeliveryError, match="21610"):
        await channel.send(reply("hi"))
    assert ("sms", CUSTOMER) in optouts.opted_out
    calls = len(twilio_api.calls)
    with pytest.raises(PermanentDeliveryError, match="opted out"):
        await channel.send(reply("hi"))
    assert len(twilio_api.calls) == calls  # never even asked Twilio


async def test_wrong_credentials_are_permanent(twilio_api: FakeTwilioAPI) -> None:
    channel = SmsChannel(sms_config(twilio_api, auth_token="not-the-token"), OpenLimiter(), MemoryOptOuts(), RecordingStatuses())
    with pytest.raises(PermanentDeliveryError, match="credentials"):
        await channel.send(reply("hi"))


async def test_unreachable_api_is_transient() -> None:
    config = SmsConfig(account_sid=TW_SID, auth_token=TW_TOKEN, from_number=TW_FROM, public_base_url=PUBLIC_BASE,
                       api_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(TransientDeliveryError):
        await SmsChannel(config, OpenLimiter(), MemoryOptOuts(), RecordingStatuses()).send(reply("hi"))


async def test_local_budget_refusal_is_rate_limited_without_calling_twilio(twilio_api: FakeTwilioAPI) -> None:
    channel = SmsChannel(sms_config(twilio_api), OpenLimiter(waits=[0.4]), MemoryOptOuts(), RecordingStatuses())
    with pytest.raises(RateLimited):
        await channel.send(reply("hi"))
    assert twilio_api.calls == []


def test_config_is_fail_closed_and_hides_the_token() -> None:
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        SmsConfig(account_sid=TW_SID, auth_token=TW_TOKEN, from_number=TW_FROM, public_base_url="")
    config = SmsConfig(account_sid=TW_SID, auth_token=TW_TOKEN, from_number=TW_FROM, public_base_url=PUBLIC_BASE)
    assert TW_TOKEN not in repr(config)


@pytest.mark.parametrize(("body", "word"), [("STOP", "STOP"), (" stop. ", "STOP"), ("Stop please", "STOPPLEASE"),
                                            ("please stop sending me all these messages", "")])
def test_keyword_normalisation(body: str, word: str) -> None:
    assert keyword(body) == word


# --- delivery receipts ------------------------------------------------------------------------


async def sent_row(system: System, twilio_api: FakeTwilioAPI) -> Any:
    await post(system, SMS_HOOK, inbound_params("what are the fees?"))
    await system.settle()
    [row] = await system.outbox()
    assert row.status == "sent"
    return row


@BOTH_BACKENDS
async def test_status_callback_marks_the_outbox_row_delivered(system: System, twilio_api: FakeTwilioAPI) -> None:
    row = await sent_row(system, twilio_api)
    params = {"MessageSid": row.platform_message_id, "MessageStatus": "delivered", "AccountSid": TW_SID,
              "To": CUSTOMER, "From": TW_FROM, "ApiVersion": "2010-04-01", "SmsSid": row.platform_message_id, "SmsStatus": "delivered"}
    response = await post(system, STATUS_HOOK, params)
    assert response.status_code == 200
    [row] = await system.outbox()
    assert row.status == "delivered"


async def test_status_callback_failure_is_recorded_with_the_error_code(system: System, twilio_api: FakeTwilioAPI) -> None:
    row = await sent_row(system, twilio_api)
    params = {"MessageSid": row.platform_message_id, "MessageStatus": "undelivered", "ErrorCode": "30003", "To": CUSTOMER}
    assert (await post(system, STATUS_HOOK, params)).status_code == 200
    # A late "delivered" must not hide the failure.
    await post(system, STATUS_HOOK, {"MessageSid": row.platform_message_id, "MessageStatus": "delivered"})
    [row] = await system.outbox()
    assert row.status == "failed"
    assert row.last_error == "twilio undelivered: error 30003"


async def test_unsigned_status_callback_changes_nothing(system: System, twilio_api: FakeTwilioAPI) -> None:
    row = await sent_row(system, twilio_api)
    params = {"MessageSid": row.platform_message_id, "MessageStatus": "failed", "ErrorCode": "30008"}
    assert (await post(system, STATUS_HOOK, params, signed=False)).status_code == 401
    assert (await post(system, STATUS_HOOK, params, token="forged")).status_code == 403
    [row] = await system.outbox()
    assert row.status == "sent"


async def test_status_callback_without_sid_is_400(system: System) -> None:
    assert (await post(system, STATUS_HOOK, {"MessageStatus": "delivered"})).status_code == 400


# --- the SQL ports on both databases ----------------------------------------------------------


async def test_sql_optouts_round_trip_and_concurrent_stops(db_sessions: Any) -> None:
    sessions = db_sessions
    optouts = SqlOptOuts(sessions)
    assert not await optouts.is_opted_out("sms", CUSTOMER)
    await asyncio.gather(*(optouts.opt_out("sms", CUSTOMER, reason="STOP") for _ in range(5)))
    assert await optouts.is_opted_out("sms", CUSTOMER)
    assert not await optouts.is_opted_out("sms", WHATSAPP_CUSTOMER)  # per address, as written
    await optouts.opt_in("sms", CUSTOMER)
    assert not await optouts.is_opted_out("sms", CUSTOMER)
    await optouts.opt_in("sms", "+15550000000")  # never opted out: nothing to do
    async with sessions() as session:
        count = (await session.execute(text("SELECT count(*) FROM optouts"))).scalar_one()
    assert count == 1


async def test_sql_delivery_status_only_moves_sent_rows(db_sessions: Any) -> None:
    sessions = db_sessions
    async with sessions.begin() as session:
        await session.execute(text(
            "INSERT INTO conversations (channel, conversation_key, customer_id, customer_name, language, mode, failed_turns,"
            " created_at, updated_at) VALUES ('sms', :k, :k, '', 'en', 'bot', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"k": CUSTOMER})
        for key, status, sid in (("a", "sent", "SM1"), ("b", "pending", "SM2"), ("c", "sent", "SM3")):
            await session.execute(text(
                "INSERT INTO outbox (conversation_id, idempotency_key, role, channel, conversation_key, text, language, source,"
                " buttons, metadata, status, attempts, not_before, last_error, platform_message_id, created_at)"
                " VALUES (1, :key, 'bot', 'sms', :k, 'hi', 'en', '', '{}', '{}', :status, 0, 0, '', :sid, CURRENT_TIMESTAMP)"),
                {"key": key, "k": CUSTOMER, "status": status, "sid": sid})
    statuses = SqlDeliveryStatus(sessions)
    assert await statuses.record("sms", "SM1", ReceiptOutcome.DELIVERED)
    assert not await statuses.record("sms", "SM2", ReceiptOutcome.DELIVERED)  # not sent yet
    assert not await statuses.record("telegram", "SM3", ReceiptOutcome.DELIVERED)  # other channel
    assert not await statuses.record("sms", "SM404", ReceiptOutcome.FAILED, error="x")
    assert await statuses.record("sms", "SM1", ReceiptOutcome.FAILED, error="twilio failed: error 30008")
    async with sessions() as session:
        rows = (await session.execute(text("SELECT platform_message_id, status, last_error FROM outbox ORDER BY id"))).all()
    assert [tuple(r) for r in rows] == [("SM1", "failed", "twilio failed: error 30008"), ("SM2", "pending", ""), ("SM3", "sent", "")]
