"""The source line under a grounded answer, on each channel through its fake platform server."""

from __future__ import annotations

from pathlib import Path

from channels.shaping import sms_size, source_line, with_source
from core.messages import OutboundMessage
from core.reply import SOURCE_TITLE_KEY, SOURCE_URL_KEY
from tests.channels.conftest import sms_channel
from tests.channels.slack_support import dm_message, envelope, slack_system
from tests.channels.test_sms import CUSTOMER as SMS_CUSTOMER
from tests.channels.test_sms import SMS_HOOK, inbound_params
from tests.channels.test_sms import post as sms_post
from tests.channels.test_telegram import CUSTOMER as TG_CUSTOMER
from tests.channels.test_telegram import message, update
from tests.channels.test_telegram import post as tg_post

SOURCE = "Source: Lost or stolen card"


def test_the_source_line_names_the_article_and_its_link_when_there_is_one() -> None:
    meta = {SOURCE_TITLE_KEY: "Lost or stolen card", SOURCE_URL_KEY: "https://help.acme.example/lost-card"}
    assert source_line(meta, "en") == "Source: Lost or stolen card (https://help.acme.example/lost-card)"
    assert source_line({SOURCE_TITLE_KEY: "银行卡丢失或被盗"}, "zh") == "来源：银行卡丢失或被盗"
    assert with_source("Hello", {}, "en") == "Hello"  # canned texts and agents' replies carry none


async def test_telegram_answer_ends_with_its_source(telegram_system, telegram_api) -> None:
    await tg_post(telegram_system, update(message=message("I lost my card")))
    await telegram_system.settle()
    [sent] = telegram_api.sent(TG_CUSTOMER)
    assert sent["_visible"].rstrip().endswith(SOURCE)
    [row] = await telegram_system.rows("SELECT metadata FROM outbox")
    assert "Lost or stolen card" in str(row[0])  # the outbox keeps the article it was grounded on


async def test_slack_answer_ends_with_its_source(tmp_path: Path) -> None:
    async with slack_system(tmp_path) as slack:
        await slack.post(envelope(dm_message("I lost my card")))
        await slack.settle()
        [post] = slack.fake.posts
    assert post.text.rstrip().endswith(SOURCE)


async def test_sms_keeps_the_source_only_within_the_segment_budget(sms_system, twilio_api) -> None:
    await sms_post(sms_system, SMS_HOOK, inbound_params("I lost my card"))
    await sms_system.settle()
    [sent] = twilio_api.sent_to(SMS_CUSTOMER)
    assert SOURCE in sent.body
    assert sms_size(sent.body).segments <= 4  # the channel's default budget


def test_sms_drops_the_source_when_it_would_not_fit(twilio_api) -> None:
    channel = sms_channel(twilio_api, None, None, max_segments=1)
    meta = {SOURCE_TITLE_KEY: "Lost or stolen card"}

    def shaped(text: str) -> str:
        return channel.shape(OutboundMessage(id=1, channel="sms", conversation_key=SMS_CUSTOMER, text=text,
                                             idempotency_key="reply:1", metadata=meta))

    assert shaped("Freeze your card in the app.") == f"Freeze your card in the app.\n{SOURCE}"
    long = "Freeze your card in the app under Cards, then Freeze card, and call us to block it for good. " * 2
    body = shaped(long.strip())
    assert SOURCE not in body and sms_size(body).segments == 1
