"""The Telegram channel end to end: updates posted to the ASGI app with Telegram's secret
header, replies sent by python-telegram-bot to the fake Bot API, state checked in the database.
Also the send budgets (`infra.ratelimit`) that pace Telegram's per-chat limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from typing import Any

import pytest

from channels.telegram.channel import TelegramChannel, TelegramConfig
from core.errors import ConfigError, PermanentDeliveryError, RateLimited, TransientDeliveryError
from core.messages import Button, ContentKind, OutboundMessage
from infra.ratelimit import MemoryRateLimiter, RedisRateLimiter
from tests.conftest import REDIS_TEST_URL
from tests.channels.conftest import (
    BOTH_BACKENDS,
    MEDIA_ONLY_EN,
    TG_BOT_ID,
    TG_SECRET,
    TG_TOKEN,
    TG_USERNAME,
    OpenLimiter,
    System,
    telegram_config,
)
from tests.fakes.telegram_api import FakeTelegramAPI

WEBHOOK = "/webhooks/telegram"
CUSTOMER = 555001
GROUP = -100777
_update_ids = itertools.count(int(time.time()) % 100000 * 100)
_message_ids = itertools.count(1)


# --- payloads as Telegram sends them ----------------------------------------------------------


def user(uid: int = CUSTOMER, *, is_bot: bool = False, first: str = "Ada") -> dict[str, Any]:
    return {"id": uid, "is_bot": is_bot, "first_name": first, "language_code": "en"}


def message(text: str | None = None, *, chat_id: int = CUSTOMER, chat_type: str = "private", sender: dict[str, Any] | None = None,
            **extra: Any) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    chat.update({"first_name": "Ada"} if chat_type == "private" else {"title": "Acme customers"})
    body: dict[str, Any] = {"message_id": next(_message_ids), "date": int(time.time()), "chat": chat, "from": sender or user()}
    if text is not None:
        body["text"] = text
    body.update(extra)
    return body


def update(**payload: Any) -> dict[str, Any]:
    return {"update_id": next(_update_ids), **payload}


def command_entity(text: str) -> list[dict[str, Any]]:
    return [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]


def mention_entity(text: str, name: str) -> list[dict[str, Any]]:
    return [{"type": "mention", "offset": text.index(name), "length": len(name)}]


async def post(system: System, body: dict[str, Any] | bytes, *, secret: str | None = TG_SECRET) -> Any:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await system.client.post(WEBHOOK, content=content, headers=headers)


@pytest.fixture
def system(telegram_system: System) -> System:
    return telegram_system


def outbound(text: str, *, chat: int | str = CUSTOMER, buttons: tuple[Button, ...] = (), **metadata: str) -> OutboundMessage:
    return OutboundMessage(id=1, channel="telegram", conversation_key=str(chat), text=text,
                           idempotency_key=f"reply:{uuid.uuid4().hex}", buttons=buttons, metadata=dict(metadata))


# --- inbound → one reply ----------------------------------------------------------------------


@BOTH_BACKENDS
async def test_message_in_one_html_reply_out_to_the_same_chat(system: System, telegram_api: FakeTelegramAPI) -> None:
    response = await post(system, update(message=message("How do I freeze my card?")))
    assert response.status_code == 200
    assert response.json() == {}
    await system.settle()

    sent = telegram_api.sent(CUSTOMER)
    assert len(sent) == 1
    assert sent[0]["parse_mode"] == "HTML"
    assert sent[0]["_visible"].strip()
    stored = await system.messages()
    assert len(stored) == 1
    assert stored[0].conversation_key == str(CUSTOMER)
    assert stored[0].kind == "text"
    [row] = await system.outbox()
    assert row.status == "sent"
    assert row.platform_message_id == str(sent[0]["_message_id"])


@BOTH_BACKENDS
async def test_five_concurrent_duplicate_deliveries_give_one_reply(system: System, telegram_api: FakeTelegramAPI) -> None:
    same = update(message=message("What are the card fees?"))
    responses = await asyncio.gather(*(post(system, same) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    await system.settle()

    assert await system.count("messages") == 1
    assert len(telegram_api.sent(CUSTOMER)) == 1
    assert len(await system.outbox()) == 1


@pytest.mark.parametrize(("secret", "status"), [(None, 401), ("wrong-secret", 403), (TG_SECRET + "x", 403), ("", 401)])
async def test_missing_or_wrong_secret_is_refused_and_nothing_stored(
    system: System, telegram_api: FakeTelegramAPI, secret: str | None, status: int
) -> None:
    response = await post(system, update(message=message("I am not Telegram")), secret=secret)
    assert response.status_code == status
    await system.settle()
    assert await system.count("messages") == 0
    assert await system.count("conversations") == 0
    assert telegram_api.calls_to("sendMessage") == []


async def test_malformed_body_is_acked_dead_lettered_and_nothing_stored(system: System) -> None:
    """Telegram repeats every non-2xx answer, so a body it cannot fix is acked and kept visible."""
    broken = [
        b"{not json",
        b"[1, 2]",
        json.dumps({"message": message("no update id")}).encode(),
        json.dumps(update(message={**message("hi"), "chat": "oops"})).encode(),
        json.dumps(update(message={**message("hi"), "date": 10**400})).encode(),
        b"[" * 5000 + b"]" * 5000,
    ]
    for body in broken:
        assert (await post(system, body)).status_code == 200
    assert await system.count("messages") == 0
    assert await system.count("rejected_requests") == len(broken)


@BOTH_BACKENDS
async def test_flood_429_is_delivered_after_retry_after_exactly_once(system: System, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.flood(retry_after=1)
    await post(system, update(message=message("Can I change my PIN?")))
    await system.settle()

    calls = telegram_api.calls_to("sendMessage")
    assert len(calls) == 2  # the refused one and the retry
    assert len(telegram_api.sent(CUSTOMER)) == 1
    assert calls[1].at - calls[0].at >= 0.9
    [row] = await system.outbox()
    assert row.status == "sent"


@BOTH_BACKENDS
async def test_blocked_bot_ends_failed_with_the_reason(system: System, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.block(CUSTOMER)
    await post(system, update(message=message("Hello?")))
    await system.settle()

    [row] = await system.outbox()
    assert row.status == "failed"
    assert "blocked by the user" in row.last_error
    assert telegram_api.sent(CUSTOMER) == []


async def test_sticker_without_text_gets_the_text_only_answer(system: System, telegram_api: FakeTelegramAPI) -> None:
    sticker = {"file_id": "CAACAgIAAxk", "file_unique_id": "AgAD", "type": "regular", "width": 512, "height": 512,
               "is_animated": False, "is_video": False}
    await post(system, update(message=message(sticker=sticker)))
    await system.settle()

    [stored] = await system.messages()
    assert stored.kind == ContentKind.MEDIA.value
    [sent] = telegram_api.sent(CUSTOMER)
    assert sent["_visible"] == MEDIA_ONLY_EN


async def test_photo_with_caption_is_answered_as_text(system: System, telegram_api: FakeTelegramAPI) -> None:
    photo = [{"file_id": "AgAC", "file_unique_id": "AQAD", "width": 90, "height": 90}]
    await post(system, update(message=message(photo=photo, caption="What does this fee mean?")))
    await system.settle()
    [stored] = await system.messages()
    assert (stored.kind, stored.text) == ("text", "What does this fee mean?")
    assert len(telegram_api.sent(CUSTOMER)) == 1


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"edited_message": message("edited text")}, id="edited"),
        pytest.param({"message": message("beep", sender=user(999, is_bot=True))}, id="bot-sender"),
        pytest.param({"message": message(new_chat_members=[user(42)], chat_id=GROUP, chat_type="supergroup")}, id="join"),
        pytest.param({"channel_post": message("news", chat_id=-100999, chat_type="channel")}, id="channel-post"),
        pytest.param({"message": message("hello everyone", chat_id=GROUP, chat_type="group")}, id="group-not-addressed"),
        pytest.param({"message": message("/help@OtherBot", chat_id=GROUP, chat_type="group",
                                         entities=command_entity("/help@OtherBot"))}, id="command-for-another-bot"),
    ],
)
async def test_ignored_updates_are_acknowledged_and_not_stored(
    system: System, telegram_api: FakeTelegramAPI, payload: dict[str, Any]
) -> None:
    response = await post(system, update(**payload))
    assert response.status_code == 200
    await system.settle()
    assert await system.count("messages") == 0
    assert telegram_api.calls_to("sendMessage") == []


async def test_group_mention_is_answered_in_reply_to_the_message(system: System, telegram_api: FakeTelegramAPI) -> None:
    telegram_api.chat(GROUP, "supergroup")
    text = f"@{TG_USERNAME} what are the card fees?"
    asked = message(text, chat_id=GROUP, chat_type="supergroup", entities=mention_entity(text, f"@{TG_USERNAME}"))
    assert (await post(system, update(message=asked))).status_code == 200
    await system.settle()

    [stored] = await system.messages()
    assert stored.text == "what are the card fees?"  # the address is not part of the question
    assert stored.conversation_key == str(GROUP)
    [sent] = telegram_api.sent(GROUP)
    assert sent["reply_parameters"]["message_id"] == asked["message_id"]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"text": "/start", "entities": command_entity("/start")}, id="command"),
        pytest.param({"text": f"/help@{TG_USERNAME}", "entities": command_entity(f"/help@{TG_USERNAME}")}, id="command-for-us"),
        pytest.param({"text": "and the fees?", "reply_to_message": message("earlier answer", chat_id=GROUP, chat_type="group",
                                                                            sender=user(TG_BOT_ID, is_bot=True))},
                     id="reply-to-bot"),
    ],
)
async def test_group_messages_addressed_to_the_bot_are_accepted(system: System, extra: dict[str, Any]) -> None:
    payload = message(chat_id=GROUP, chat_type="group", **extra)
    assert (await post(system, update(message=payload))).status_code == 200
    assert await system.count("messages") == 1


async def test_button_press_arrives_as_text_and_stops_the_spinner(system: System) -> None:
    pressed = {
        "id": "4382bfdwdsb323b2d9",
        "from": user(),
        "chat_instance": "-88",
        "data": "thumbs_up",
        "message": message("Was this helpful?", sender=user(TG_BOT_ID, is_bot=True)),
    }
    response = await post(system, update(callback_query=pressed))
    assert response.status_code == 200
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": "4382bfdwdsb323b2d9"}
    [stored] = await system.messages()
    assert (stored.text, stored.conversation_key) == ("thumbs_up", str(CUSTOMER))


# --- outbound shaping and errors (the channel alone against the fake API) ---------------------


async def test_a_5000_character_answer_is_split_under_4096_at_word_boundaries(telegram_api: FakeTelegramAPI) -> None:
    channel = TelegramChannel(telegram_config(telegram_api), OpenLimiter())
    words = [f"word{i}" for i in range(900)]
    answer = " ".join(words)
    assert len(answer) > 5000

    delivered = await channel.send(outbound(answer))

    sent = telegram_api.sent(CUSTOMER)
    assert len(sent) == 2
    assert all(len(s["_visible"]) <= 4096 for s in sent)
    assert " ".join(s["_visible"] for s in sent).split() == words  # nothing lost, no word cut
    assert delivered.platform_message_id.count(",") == 1


async def test_markup_is_escaped_and_markdown_becomes_html(telegram_api: FakeTelegramAPI) -> None:
    channel = TelegramChannel(telegram_config(telegram_api), OpenLimiter())
    await channel.send(outbound("Fees: transfers < 100 EUR & cards > 0. **Free** abroad, see `fees<2>`."))
    [sent] = telegram_api.sent(CUSTOMER)
    assert sent["text"] == "Fees: transfers &lt; 100 EUR &amp; cards &gt; 0. <b>Free</b> abroad, see <code>fees&lt;2&gt;</code>."
    assert sent["_visible"] == "Fees: transfers < 100 EUR & cards > 0. Free abroad, see fees<2>."


async def test_emoji_count_as_two_units_toward_the_limit(telegram_api: FakeTelegramAPI) -> None:
    channel = TelegramChannel(telegram_config(telegram_api), OpenLimiter())
    await channel.send(outbound("😀" * 2100))  # 4200 UTF-16 units: one message would be refused
    sent = telegram_api.sent(CUSTOMER)
    assert len(sent) == 2
    assert "".join(s["_visible"] for s in sent) == "😀" * 2100


async def test_buttons_become_an_inline_keyboard_on_the_last_part(telegram_api: FakeTelegramAPI) -> None:
    channel = TelegramChannel(telegram_config(telegram_api), OpenLimiter())
    buttons = (Button("Yes", "helpful:yes"), Button("No", "helpful:no"))
    await channel.send(outbound("Did that help?", buttons=buttons))
    [sent] = telegram_api.sent(CUSTOMER)
    assert sent["reply_markup"] == {
        "inline_keyboard": [[{"text": "Yes", "callback_data": "helpful:yes"}], [{"text": "No", "callback_data": "helpful:no"}]]
    }


async def test_errors_map_to_the_delivery_error_tree(telegram_api: FakeTelegramAPI) -> None:
    channel = TelegramChannel(telegram_config(telegram_api), OpenLimiter())
    telegram_api.flood(retry_after=7)
    with pytest.raises(RateLimited) as limited:
        await channel.send(outbound("hi"))
    assert limited.value.retry_after == 7

    telegram_api.fail_next("sendMessage", status=502, description="Bad Gateway")
    with pytest.raises(TransientDeliveryError):
        await channel.send(outbound("hi"))

    telegram_api.forget_chat(404404)
    with pytest.raises(PermanentDeliveryError, match="(?i)chat not found"):
        await channel.send(outbound("hi", chat=404404))

    telegram_api.fail_next("sendMessage", status=400, description="Bad Request: group chat was upgraded to a supergroup chat",
                           parameters={"migrate_to_chat_id": -1009})
    with pytest.raises(PermanentDeliveryError, match="-1009"):
        await channel.send(outbound("hi"))


async def test_wrong_token_is_permanent_and_not_leaked(telegram_api: FakeTelegramAPI) -> None:
    config = TelegramConfig(token="999:wrong-token", webhook_secret=TG_SECRET, api_url=telegram_api.url)
    with pytest.raises(PermanentDeliveryError) as failed:
        await TelegramChannel(config, OpenLimiter()).send(outbound("hi"))
    assert "wrong-token" not in str(failed.value)
    assert "wrong-token" not in repr(config)


async def test_unreachable_api_is_transient() -> None:
    config = TelegramConfig(token=TG_TOKEN, webhook_secret=TG_SECRET, api_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(TransientDeliveryError):
        await TelegramChannel(config, OpenLimiter()).send(outbound("hi"))


async def test_flood_between_parts_is_waited_out_not_resent(telegram_api: FakeTelegramAPI) -> None:
    channel = TelegramChannel(telegram_config(telegram_api, max_inline_wait=2), OpenLimiter())
    telegram_api.flood(retry_after=1, after=1)  # the second part hits flood control
    await channel.send(outbound("a" * 4000 + "\n\n" + "b" * 4000))

    calls = telegram_api.calls_to("sendMessage")
    assert [s["_visible"] for s in telegram_api.sent(CUSTOMER)] == ["a" * 4000, "b" * 4000]
    assert len(calls) == 3  # first part once, second part refused then sent
    assert calls[2].at - calls[1].at >= 0.9


async def test_long_flood_between_parts_is_left_to_delivery(telegram_api: FakeTelegramAPI) -> None:
    channel = TelegramChannel(telegram_config(telegram_api, max_inline_wait=2), OpenLimiter())
    telegram_api.flood(retry_after=30, after=1)
    with pytest.raises(RateLimited) as limited:
        await channel.send(outbound("a" * 4000 + "\n\n" + "b" * 4000))
    assert limited.value.retry_after == 30


async def test_local_budget_refusal_is_rate_limited_without_calling_telegram(telegram_api: FakeTelegramAPI) -> None:
    channel = TelegramChannel(telegram_config(telegram_api), OpenLimiter(waits=[0.7]))
    with pytest.raises(RateLimited) as limited:
        await channel.send(outbound("hi"))
    assert limited.value.retry_after == pytest.approx(0.7)
    assert telegram_api.calls_to("sendMessage") == []


async def test_group_sends_use_the_group_budget(telegram_api: FakeTelegramAPI) -> None:
    limiter = MemoryRateLimiter(Clock())  # a still clock: the wait does not depend on how long the sends took
    channel = TelegramChannel(telegram_config(telegram_api, group_per_minute=20, group_burst=2), limiter)
    for _ in range(2):
        await channel.send(outbound("hi", chat=GROUP, chat_type="group"))
    with pytest.raises(RateLimited) as limited:
        await channel.send(outbound("hi", chat=GROUP, chat_type="group"))
    assert limited.value.retry_after == pytest.approx(3.0)  # 20 a minute: one every 3 s
    await channel.send(outbound("hi", chat=CUSTOMER))  # a private chat has its own budget


async def test_set_webhook_registers_the_secret(telegram_api: FakeTelegramAPI) -> None:
    channel = TelegramChannel(telegram_config(telegram_api), OpenLimiter())
    assert await channel.set_webhook("https://csbot.example.com/webhooks/telegram")
    assert telegram_api.webhook["url"] == "https://csbot.example.com/webhooks/telegram"
    assert telegram_api.webhook["secret_token"] == TG_SECRET


def test_config_refuses_a_secret_telegram_would_not_accept() -> None:
    with pytest.raises(ConfigError):
        TelegramConfig(token=TG_TOKEN, webhook_secret="has spaces and ünïcode")
    with pytest.raises(ConfigError):
        TelegramConfig(token=TG_TOKEN, webhook_secret="")


# --- send budgets (infra.ratelimit) -----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_limiter_allows_a_burst_then_paces() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    waits = [await limiter.reserve("chat:1", per_second=1.0, burst=3) for _ in range(4)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3] == pytest.approx(1.0)
    assert await limiter.reserve("chat:1", per_second=1.0, burst=3) == pytest.approx(1.0)  # refusals take nothing
    clock.now += 1.0
    assert await limiter.reserve("chat:1", per_second=1.0, burst=3) == 0
    assert await limiter.reserve("chat:2", per_second=1.0, burst=3) == 0  # keys are independent


@pytest.fixture
async def redis_limiter() -> Any:
    from redis.asyncio import Redis

    from tests.conftest import require_services

    require_services()
    client = Redis.from_url(REDIS_TEST_URL)
    prefix = f"csbot:test-rl:{uuid.uuid4().hex[:8]}:"
    try:
        yield RedisRateLimiter(client, prefix=prefix), client, prefix
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_redis_limiter_is_atomic_under_concurrency(redis_limiter: Any) -> None:
    limiter, client, prefix = redis_limiter
    waits = await asyncio.gather(*(limiter.reserve("chat:9", per_second=1.0, burst=5) for _ in range(30)))
    assert sum(1 for w in waits if w == 0) == 5
    assert all(0 < w <= 1.0 for w in waits if w)
    ttl = await client.pttl(prefix + "chat:9")
    assert 0 < ttl <= 7000  # state expires once the budget is full again


async def test_redis_limiter_paces_at_the_rate(redis_limiter: Any) -> None:
    limiter, _, _ = redis_limiter
    assert await limiter.reserve("chat:10", per_second=5.0) == 0
    wait = await limiter.reserve("chat:10", per_second=5.0)
    assert 0.1 < wait <= 0.2
    await asyncio.sleep(wait)
    assert await limiter.reserve("chat:10", per_second=5.0) == 0


async def test_redis_limiter_from_url_works_across_event_loops() -> None:
    from tests.conftest import require_services

    require_services()
    limiter = RedisRateLimiter(REDIS_TEST_URL, prefix=f"csbot:test-rl:{uuid.uuid4().hex[:8]}:")

    def in_new_loop() -> float:
        return asyncio.run(limiter.reserve("k", per_second=100.0, burst=100))

    results = [await asyncio.to_thread(in_new_loop) for _ in range(3)]
    assert results == [0, 0, 0]


async def test_redis_limiter_fails_open_when_redis_is_down() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    try:
        assert await RedisRateLimiter(client).reserve("x", per_second=1.0) == 0
    finally:
        await client.aclose()
