"""👍/👎 on answers, per channel, end to end: the answer asks in the channel's own way, the
customer's press (or "1"/"2" on SMS) is stored against that answer, and nothing else changes."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from core.feedback import Vote, VotePress, button_payload, parse_text_vote
from infra.db.engine import make_sessions
from infra.db.feedback import SqlFeedbackStore
from tests.channels.conftest import BOTH_BACKENDS, TG_BOT_ID, System
from tests.channels.slack_support import (
    BOT_USER,
    DM_CHANNEL,
    SUPPORT_CHANNEL,
    SlackSystem,
    app_mention,
    dm_message,
    envelope,
    new_ts,
    signed_headers,
    slack_system,
)
from tests.channels.slack_support import CUSTOMER as SLACK_CUSTOMER
from tests.channels.test_sms import CUSTOMER as SMS_CUSTOMER
from tests.channels.test_sms import SMS_HOOK, inbound_params
from tests.channels.test_sms import post as sms_post
from tests.channels.test_telegram import CUSTOMER as TG_CUSTOMER
from tests.channels.test_telegram import message, update, user
from tests.channels.test_telegram import post as tg_post
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI

INTERACTIONS = "/webhooks/slack/interactions"
SMS_PROMPT = "Did this help? Reply 1 if it did, 2 if not."


async def votes(system: System) -> list[tuple[int, int]]:
    rows = await system.rows("SELECT outbound_id, score FROM feedback WHERE kind = 'thumbs' ORDER BY id")
    return [(int(r[0]), int(r[1])) for r in rows]


# --- Telegram: an inline keyboard, a callback_query back ----------------------------------------


@pytest.fixture
def telegram(telegram_system: System) -> System:
    return telegram_system


def press(data: str, *, chat: int = TG_CUSTOMER, query_id: str = "q1") -> dict[str, Any]:
    return update(callback_query={
        "id": query_id, "from": user(), "chat_instance": "-88", "data": data,
        "message": message("the answer", chat_id=chat, sender=user(TG_BOT_ID, is_bot=True)),
    })


@BOTH_BACKENDS
async def test_telegram_answer_carries_vote_buttons_and_a_press_is_stored(
    telegram: System, telegram_api: FakeTelegramAPI
) -> None:
    await tg_post(telegram, update(message=message("How do I freeze my card?")))
    await telegram.settle()
    [sent] = telegram_api.sent(TG_CUSTOMER)
    [answer] = await telegram.outbox()
    keyboard = sent["reply_markup"]["inline_keyboard"]
    assert keyboard[-1] == [
        {"text": "👍", "callback_data": f"fb:{answer.id}:up"},
        {"text": "👎", "callback_data": f"fb:{answer.id}:down"},
    ]

    response = await tg_post(telegram, press(f"fb:{answer.id}:down"))
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": "q1", "text": "Thank you for your feedback!"}
    assert await votes(telegram) == [(answer.id, -1)]

    # Pressing again changes the vote: one vote per answer, never a second row.
    await tg_post(telegram, press(f"fb:{answer.id}:up", query_id="q2"))
    assert await votes(telegram) == [(answer.id, 1)]
    # A press is not a message: no turn, no second answer.
    await telegram.settle()
    assert await telegram.count("messages") == 1
    assert len(telegram_api.sent(TG_CUSTOMER)) == 1


async def test_telegram_vote_on_another_chats_answer_changes_nothing(telegram: System, telegram_api: FakeTelegramAPI) -> None:
    await tg_post(telegram, update(message=message("How do I freeze my card?")))
    await telegram.settle()
    [answer] = await telegram.outbox()

    for forged in (press(f"fb:{answer.id}:down", chat=999), press("fb:999999:down"), press("fb:abc:down")):
        response = await tg_post(telegram, forged)
        assert response.status_code == 200  # acknowledged, so Telegram does not retry it
        assert "text" not in response.json()
    assert await votes(telegram) == []


async def test_a_message_that_did_not_ask_cannot_be_voted_on(telegram: System, telegram_api: FakeTelegramAPI) -> None:
    sticker = {"file_id": "CAACAgIAAxk", "file_unique_id": "AgAD", "type": "regular", "width": 512, "height": 512,
               "is_animated": False, "is_video": False}
    await tg_post(telegram, update(message=message(sticker=sticker)))  # answered with a fixed text
    await telegram.settle()
    [canned] = await telegram.outbox()
    assert "reply_markup" not in telegram_api.sent(TG_CUSTOMER)[0]
    await tg_post(telegram, press(f"fb:{canned.id}:down"))
    assert await votes(telegram) == []


@BOTH_BACKENDS
async def test_concurrent_presses_on_one_answer_leave_one_vote(telegram: System) -> None:
    await tg_post(telegram, update(message=message("How do I freeze my card?")))
    await telegram.settle()
    [answer] = await telegram.outbox()
    presses = [press(f"fb:{answer.id}:{'up' if i % 2 else 'down'}", query_id=f"q{i}") for i in range(6)]
    responses = await asyncio.gather(*(tg_post(telegram, p) for p in presses))
    assert {r.status_code for r in responses} == {200}
    [(voted, score)] = await votes(telegram)
    assert voted == answer.id and score in (1, -1)


# --- SMS: a "reply 1 / 2" line, the customer's next message -------------------------------------


@pytest.fixture
def sms(sms_system: System) -> System:
    return sms_system


@BOTH_BACKENDS
async def test_sms_answer_asks_for_1_or_2_and_the_reply_is_stored_as_a_vote(sms: System, twilio_api: FakeTwilioAPI) -> None:
    await sms_post(sms, SMS_HOOK, inbound_params("How do I freeze my card?"))
    await sms.settle()
    [answer_sms] = twilio_api.sent_to(SMS_CUSTOMER)
    assert answer_sms.body.endswith(SMS_PROMPT)
    [answer] = await sms.outbox()

    await sms_post(sms, SMS_HOOK, inbound_params("1"))
    await sms.settle()
    assert await votes(sms) == [(answer.id, 1)]
    thanks = twilio_api.sent_to(SMS_CUSTOMER)[-1]
    assert thanks.body == "Thank you for your feedback!"

    # The question is closed: a second "2" is an ordinary message, not a changed vote.
    await sms_post(sms, SMS_HOOK, inbound_params("2"))
    await sms.settle()
    assert await votes(sms) == [(answer.id, 1)]
    assert len(twilio_api.sent_to(SMS_CUSTOMER)) == 3


@BOTH_BACKENDS
async def test_a_vote_recorded_by_a_turn_that_crashed_before_its_thanks_is_thanked_on_the_rerun(
    sms: System, twilio_api: FakeTwilioAPI
) -> None:
    await sms_post(sms, SMS_HOOK, inbound_params("How do I freeze my card?"))
    await sms.settle()
    [answer] = await sms.outbox()
    # What the crashed run left behind: the vote stored, no thanks written.
    await SqlFeedbackStore(make_sessions(sms.runtime.db)).record_vote(VotePress("sms", SMS_CUSTOMER, answer.id, Vote.UP))

    await sms_post(sms, SMS_HOOK, inbound_params("1"))
    await sms.settle()
    assert await votes(sms) == [(answer.id, 1)]
    assert twilio_api.sent_to(SMS_CUSTOMER)[-1].body == "Thank you for your feedback!"


async def test_sms_digit_without_an_open_question_is_an_ordinary_message(sms: System, twilio_api: FakeTwilioAPI) -> None:
    await sms_post(sms, SMS_HOOK, inbound_params("1"))
    await sms.settle()
    assert await votes(sms) == []
    [reply] = twilio_api.sent_to(SMS_CUSTOMER)
    assert reply.body != "Thank you for your feedback!"


# --- the vocabulary ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "vote"), [("1", Vote.UP), (" 2 ", Vote.DOWN), ("１", Vote.UP), ("👍", Vote.UP),
                                            ("👎️", Vote.DOWN), ("1.", Vote.UP), ("12", None), ("one", None), ("", None)])
def test_text_votes(text: str, vote: Vote | None) -> None:
    assert parse_text_vote(text) == vote


def test_vote_payload_fits_telegram_callback_data() -> None:
    assert len(button_payload(2**63 - 1, Vote.DOWN).encode()) <= 64


# --- Slack: buttons under the answer, a signed block_actions back --------------------------------


def slack_click(value: str, *, channel: str, message_ts: str, thread_ts: str | None = None,
                action_id: str = "csbot_vote:down", user: str = SLACK_CUSTOMER) -> dict[str, Any]:
    """A `block_actions` interaction as Slack posts it for a click on a message's button."""
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "user": BOT_USER, "text": "the answer"}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "ada", "team_id": "T0001"},
        "team": {"id": "T0001"},
        "channel": {"id": channel, "name": "directmessage"},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "message": message,
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:8]}",
        "response_url": "https://hooks.slack.com/actions/T0001/1/abc",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "csbot_vote", "value": value,
                     "action_ts": new_ts()}],
    }


async def post_click(slack: SlackSystem, payload: dict[str, Any], *, sign: bool = True) -> httpx.Response:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = signed_headers(body) if sign else {}
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return await slack.http.post(INTERACTIONS, content=body, headers=headers)


async def slack_votes(slack: SlackSystem) -> list[tuple[int, int]]:
    return [(r["outbound_id"], r["score"]) for r in await slack.rows("feedback") if r["kind"] == "thumbs"]


async def test_slack_answer_carries_vote_buttons_and_a_signed_click_is_stored(tmp_path: Path) -> None:
    async with slack_system(tmp_path) as slack:
        await slack.post(envelope(dm_message("I lost my card")))
        await slack.settle()
        [post] = slack.fake.posts
        [answer] = await slack.rows("outbox")
        vote_block = post.blocks[-1]
        assert [e["value"] for e in vote_block["elements"]] == [f"fb:{answer['id']}:up", f"fb:{answer['id']}:down"]

        click = slack_click(f"fb:{answer['id']}:down", channel=DM_CHANNEL, message_ts=post.ts)
        assert (await post_click(slack, click, sign=False)).status_code == 401
        assert await slack_votes(slack) == []
        assert (await post_click(slack, click)).status_code == 200
        assert await slack_votes(slack) == [(answer["id"], -1)]
        # Another conversation's answer id changes nothing, and is still a 200 (no retries).
        other = slack_click(f"fb:{answer['id']}:up", channel="D0OTHER", message_ts=post.ts, action_id="csbot_vote:up")
        assert (await post_click(slack, other)).status_code == 200
        assert await slack_votes(slack) == [(answer["id"], -1)]


async def test_slack_answer_in_a_channel_thread_is_voted_on_from_that_thread(tmp_path: Path) -> None:
    async with slack_system(tmp_path) as slack:
        root = new_ts()
        await slack.post(envelope(app_mention("I lost my card", ts=root)))
        await slack.settle()
        [post] = slack.fake.posts
        [answer] = await slack.rows("outbox")
        click = slack_click(f"fb:{answer['id']}:up", channel=SUPPORT_CHANNEL, message_ts=post.ts, thread_ts=root,
                            action_id="csbot_vote:up")
        assert (await post_click(slack, click)).status_code == 200
        assert await slack_votes(slack) == [(answer["id"], 1)]


async def test_slack_choice_button_arrives_as_the_customers_message(tmp_path: Path) -> None:
    async with slack_system(tmp_path) as slack:
        click = slack_click("How do I freeze my card?", channel=DM_CHANNEL, message_ts=new_ts(), action_id="csbot_reply:0")
        assert (await post_click(slack, click)).status_code == 200
        assert (await post_click(slack, click)).status_code == 200  # Slack's retry of the same click
        await slack.settle()
        [stored] = await slack.rows("messages")
        assert stored["text"] == "How do I freeze my card?"
        [answer] = slack.fake.posts
        assert answer.channel == DM_CHANNEL


async def test_sms_does_not_ask_while_the_customer_has_already_written_again(sms: System, twilio_api: FakeTwilioAPI) -> None:
    from core.messages import InboundMessage

    store = sms.runtime.store
    ids = [
        (await store.save_inbound(InboundMessage("sms", f"SM{n}", SMS_CUSTOMER, SMS_CUSTOMER, text)))[0]
        for n, text in enumerate(("How do I freeze my card?", "And what are the card fees?"))
    ]
    await sms.runtime.services.turns.process(ids[0])  # both are waiting when the turn runs
    await sms.settle()
    first, second = twilio_api.sent_to(SMS_CUSTOMER)
    assert not first.body.endswith(SMS_PROMPT)  # a "1" now would be ambiguous
    assert second.body.endswith(SMS_PROMPT)
