"""The Telegram stream view and the final edit, through python-telegram-bot at the fake Bot API."""

from __future__ import annotations

import uuid

import pytest

from channels.telegram.channel import TelegramChannel
from core.errors import RateLimited
from core.messages import OutboundMessage
from core.streaming import RESERVED, STREAM_KEY, StreamTarget
from tests.channels.conftest import OpenLimiter, telegram_config
from tests.fakes.telegram_api import FakeTelegramAPI

GROUP = -100321
PRIVATE = 555009


def final(text: str, chat: int, **metadata: str) -> OutboundMessage:
    return OutboundMessage(id=3, channel="telegram", conversation_key=str(chat), text=text,
                           idempotency_key=f"reply:{uuid.uuid4().hex}", metadata=dict(metadata), ask_feedback=True)


@pytest.fixture
def channel(telegram_api: FakeTelegramAPI) -> TelegramChannel:
    telegram_api.chat(GROUP, "supergroup")
    return TelegramChannel(telegram_config(api=telegram_api), OpenLimiter())


async def test_a_long_final_edits_the_partial_into_its_first_part_and_posts_the_rest(
    channel: TelegramChannel, telegram_api: FakeTelegramAPI
) -> None:
    target = StreamTarget(41, str(GROUP), {"chat_type": "supergroup", "message_id": "7"})
    ref = await channel.stream_view().show(target, "Our branches are", None)
    assert ref is not None and await channel.stream_view().show(target, "Our branches are open", ref) == ref
    long = ("Our branches are open on weekdays. " * 200).strip()  # ~7000 characters: two messages
    delivered = await channel.send(final(long, GROUP, chat_type="supergroup", message_id="7", **{STREAM_KEY: ref}))
    ids = delivered.platform_message_id.split(",")
    assert ids[0] == ref and len(ids) == 2
    first, second = telegram_api.visible(GROUP)
    assert first.startswith("Our branches are open on weekdays.") and len(first) > 3000 and second
    assert len(telegram_api.sent(GROUP)) == 2, "the partial and the second part; the first part was an edit"
    [vote_row] = telegram_api.messages[(GROUP, int(ids[1]))]["reply_markup"]["inline_keyboard"]
    assert len(vote_row) == 2, "the vote buttons ride on the last part"


async def test_a_retried_final_edit_is_no_error_and_a_deleted_partial_gets_a_new_message(
    channel: TelegramChannel, telegram_api: FakeTelegramAPI
) -> None:
    target = StreamTarget(42, str(GROUP), {"chat_type": "supergroup"})
    ref = await channel.stream_view().show(target, "Open on", None)
    assert ref is not None
    answer = final("Open on weekdays.", GROUP, chat_type="supergroup", **{STREAM_KEY: ref})
    await channel.send(answer)
    await channel.send(answer)  # the outbox retrying after a lost acknowledgement
    assert telegram_api.visible(GROUP) == ["Open on weekdays."]
    await channel.stream_view().withdraw(target, ref)
    assert telegram_api.visible(GROUP) == []
    await channel.send(answer)
    assert telegram_api.visible(GROUP) == ["Open on weekdays."], "gone partial: posted anew, never lost"


async def test_private_chats_get_one_draft_and_a_reservation_is_no_reference(
    channel: TelegramChannel, telegram_api: FakeTelegramAPI
) -> None:
    target = StreamTarget(43, str(PRIVATE), {"chat_type": "private"})
    view = channel.stream_view()
    assert not view.lasting(target)
    assert await view.show(target, "Our", None) is None
    assert await view.show(target, "Our branches", None) is None
    assert [int(d["draft_id"]) for d in telegram_api.drafts(PRIVATE)] == [43, 43]
    assert telegram_api.visible(PRIVATE) == []
    await channel.send(final("Our branches are open.", PRIVATE, chat_type="private", **{STREAM_KEY: RESERVED}))
    assert telegram_api.visible(PRIVATE) == ["Our branches are open."]


async def test_partials_keep_to_their_own_budget(telegram_api: FakeTelegramAPI) -> None:
    limiter = OpenLimiter(waits=[0.8])
    channel = TelegramChannel(telegram_config(api=telegram_api), limiter)
    with pytest.raises(RateLimited) as refused:
        await channel.stream_view().show(StreamTarget(44, str(PRIVATE), {"chat_type": "private"}), "Our", None)
    assert refused.value.retry_after == pytest.approx(0.8)
    assert limiter.keys == [f"telegram:partial:{PRIVATE}"] and not telegram_api.drafts(PRIVATE)
