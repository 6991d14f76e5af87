"""The Slack customer channel: signed Events API requests in through the ASGI app, replies out
through the real slack_sdk client to the fake Slack Web API, state checked in the database."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from channels.http import WebRequest
from channels.slack import SPEC as SLACK
from channels.slack.channel import SlackChannel
from channels.slack.config import SlackConfig
from core.errors import PermanentDeliveryError, RateLimited, TransientDeliveryError
from core.messages import Button, OutboundMessage
from tests.channels.slack_support import (
    AGENT_CHANNEL,
    BOT_TOKEN,
    BOT_USER,
    CUSTOMER,
    DM_CHANNEL,
    SIGNING_SECRET,
    SUPPORT_CHANNEL,
    OpenLimiter,
    SlackSystem,
    app_mention,
    dm_message,
    envelope,
    new_ts,
    slack_system,
)
from tests.fakes.slack_api import ApiError, FakeSlackApi, RateLimit, ServerError, Slow

MEDIA_ONLY_EN = "Sorry, I can only read text for now. Please type your question."


@pytest.fixture
async def slack(tmp_path: Path):
    async with slack_system(tmp_path) as system:
        yield system


@pytest.fixture
async def fake():
    async with FakeSlackApi(token=BOT_TOKEN, bot_user_id=BOT_USER) as server:
        yield server


def direct_channel(fake: FakeSlackApi, limiter: OpenLimiter | None = None, **config: object) -> SlackChannel:
    settings = {"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET, "api_url": fake.api_url, **config}
    return SlackChannel(SlackConfig(**settings), limiter or OpenLimiter())  # type: ignore[arg-type]


def reply(text: str, *, channel: str = SUPPORT_CHANNEL, thread_ts: str = "1700000000.000100",
          buttons: tuple[Button, ...] = (), key: str = "reply:1") -> OutboundMessage:
    return OutboundMessage(
        id=1,
        channel="slack",
        conversation_key=f"{channel}:{thread_ts}" if thread_ts else channel,
        text=text,
        idempotency_key=key,
        buttons=buttons,
        metadata={"channel": channel, "thread_ts": thread_ts},
    )


# --- inbound → reply, end to end ---------------------------------------------------------------


async def test_dm_gets_exactly_one_reply_in_the_dm(slack: SlackSystem) -> None:
    response = await slack.post(envelope(dm_message("I lost my card")))
    assert response.status_code == 200
    await slack.settle()

    [post] = slack.fake.posts
    assert post.channel == DM_CHANNEL
    assert post.thread_ts is None  # a top-level DM message gets a top-level answer
    assert "Freeze your card" in post.text
    assert post.token == BOT_TOKEN
    [conversation] = await slack.rows("conversations")
    assert conversation["conversation_key"] == DM_CHANNEL and conversation["customer_id"] == CUSTOMER
    [outbound] = await slack.rows("outbox")
    assert outbound["status"] == "sent" and outbound["platform_message_id"] == post.ts
    assert slack.limiter.keys == [f"slack:{DM_CHANNEL}"]


async def test_channel_mention_is_answered_in_its_thread_and_each_thread_is_a_conversation(slack: SlackSystem) -> None:
    top = new_ts()
    await slack.post(envelope(app_mention("when are you open?", ts=top)))
    parent = "1700000000.000200"
    await slack.post(envelope(app_mention("I lost my card", thread_ts=parent)))
    await slack.settle()

    posts = sorted(slack.fake.posts, key=lambda p: p.thread_ts or "")
    assert [(p.channel, p.thread_ts) for p in posts] == sorted([(SUPPORT_CHANNEL, top), (SUPPORT_CHANNEL, parent)], key=lambda x: x[1])
    keys = {row["conversation_key"] for row in await slack.rows("conversations")}
    assert keys == {f"{SUPPORT_CHANNEL}:{top}", f"{SUPPORT_CHANNEL}:{parent}"}
    texts = {row["text"] for row in await slack.rows("messages")}
    assert texts == {"when are you open?", "I lost my card"}  # the bot's mention is stripped


async def test_five_concurrent_deliveries_and_a_retry_of_one_event_get_one_reply(slack: SlackSystem) -> None:
    payload = envelope(dm_message("I lost my card"), event_id="EvDUPLICATE1")
    responses = await asyncio.gather(*(slack.post(payload) for _ in range(5)))
    retry = await slack.post(payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    await slack.settle()
    await asyncio.sleep(0.3)  # a wrongly enqueued second job would show itself now
    await slack.settle()

    assert [r.status_code for r in (*responses, retry)] == [200] * 6
    assert len(slack.fake.posts) == 1
    assert await slack.count("messages") == 1
    assert await slack.count("outbox") == 1


async def test_one_slack_message_seen_as_mention_and_as_message_is_answered_once(slack: SlackSystem) -> None:
    """Slack sends a DM mention as both `message.im` and `app_mention`, and a channel mention as
    `app_mention` plus (with history scopes) a channel `message`: each is one turn."""
    dm_ts, channel_ts = new_ts(), new_ts()
    dm_text = f"<@{BOT_USER}> I lost my card"
    await slack.post(envelope(dm_message(dm_text, ts=dm_ts)))
    await slack.post(envelope(app_mention("I lost my card", ts=dm_ts, channel=DM_CHANNEL)))
    await slack.post(envelope(app_mention("when are you open?", ts=channel_ts)))
    await slack.post(envelope(dm_message(f"<@{BOT_USER}> when are you open?", ts=channel_ts, channel=SUPPORT_CHANNEL,
                                         channel_type="channel")))
    await slack.settle()

    assert sorted(p.channel for p in slack.fake.posts) == sorted([DM_CHANNEL, SUPPORT_CHANNEL])
    assert await slack.count("messages") == 2


async def test_media_only_message_gets_the_text_only_answer(slack: SlackSystem) -> None:
    files = [{"id": "F1", "name": "photo.jpg", "mimetype": "image/jpeg"}]
    await slack.post(envelope(dm_message("", subtype="file_share", files=files)))
    await slack.settle()

    [message] = await slack.rows("messages")
    assert message["kind"] == "media"
    [post] = slack.fake.posts
    assert post.text == MEDIA_ONLY_EN


async def test_answer_is_mrkdwn_escaped_and_inbound_text_unescaped(slack: SlackSystem) -> None:
    await slack.post(envelope(dm_message("what are the card fees &lt; 100 &amp; more?")))
    await slack.settle()

    [message] = await slack.rows("messages")
    assert message["text"] == "what are the card fees < 100 & more?"
    [post] = slack.fake.posts
    assert "transfers &lt; 100 EUR &amp; card payments abroad &gt; 0 EUR" in post.text
    assert "&lt;!channel&gt;" in post.text and "<!channel>" not in post.text


# --- refused and ignored requests -----------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    ["forged", "wrong secret", "unsigned", "stale", "future", "garbage timestamp", "body changed"],
)
async def test_unverified_requests_get_401_and_change_nothing(slack: SlackSystem, how: str) -> None:
    payload = envelope(dm_message("I lost my card"))
    body = json.dumps(payload).encode()
    if how == "forged":
        response = await slack.post(body, headers={"X-Slack-Signature": "v0=" + "0" * 64})
    elif how == "wrong secret":
        response = await slack.post(body, secret="not-the-signing-secret")
    elif how == "unsigned":
        response = await slack.post(body, sign=False)
    elif how == "stale":
        response = await slack.post(body, timestamp=int(time.time()) - 301 - 5)
    elif how == "future":
        response = await slack.post(body, timestamp=int(time.time()) + 400)
    elif how == "garbage timestamp":
        response = await slack.post(body, headers={"X-Slack-Request-Timestamp": "yesterday"})
    else:
        from tests.channels.slack_support import signed_headers

        headers = signed_headers(body)
        tampered = body.replace(b"I lost my card", b"I lost my cash")
        response = await slack.http.post("/webhooks/slack/events", content=tampered, headers=headers)
    await slack.settle()

    assert response.status_code == 401
    assert await slack.count("messages") == 0
    assert await slack.count("conversations") == 0
    assert slack.fake.calls == []


async def test_url_verification_is_answered_with_the_challenge_only_when_signed(slack: SlackSystem) -> None:
    challenge = {"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
    response = await slack.post(challenge)
    assert response.status_code == 200
    assert response.json() == {"challenge": challenge["challenge"]}
    assert (await slack.post(challenge, sign=False)).status_code == 401


async def test_malformed_json_is_400_and_not_retried(slack: SlackSystem) -> None:
    response = await slack.post(b'{"type": "event_callback", "event": ')
    assert response.status_code == 400
    assert response.headers.get("x-slack-no-retry") == "1"
    assert await slack.count("messages") == 0


@pytest.mark.parametrize(
    "event",
    [
        dm_message("echo of my own answer", user=BOT_USER),
        dm_message("another app", user="UOTHERBOT", bot_id="B0OTHER"),
        dm_message("legacy integration", subtype="bot_message", bot_id="B0LEGACY", user=""),
    ],
    ids=["own message", "other bot", "bot_message subtype"],
)
async def test_bot_messages_are_ignored(slack: SlackSystem, event: dict) -> None:
    response = await slack.post(envelope(event))
    await slack.settle()
    assert response.status_code == 200
    assert await slack.count("messages") == 0
    assert slack.fake.posts == []


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message", "subtype": "message_changed", "channel": DM_CHANNEL, "channel_type": "im", "hidden": True,
         "ts": "1700000001.000100", "message": {"type": "message", "user": CUSTOMER, "text": "edited", "ts": "1700000000.000100"},
         "previous_message": {"type": "message", "user": CUSTOMER, "text": "orig", "ts": "1700000000.000100"}},
        {"type": "message", "subtype": "message_deleted", "channel": DM_CHANNEL, "channel_type": "im", "hidden": True,
         "ts": "1700000002.000100", "deleted_ts": "1700000000.000100"},
        dm_message("<@UCUST1> has joined the channel", channel=SUPPORT_CHANNEL, channel_type="channel", subtype="channel_join"),
        {"type": "reaction_added", "user": CUSTOMER, "reaction": "thumbsup", "item_user": BOT_USER,
         "item": {"type": "message", "channel": DM_CHANNEL, "ts": "1700000000.000100"}, "event_ts": "1700000003.000100"},
        dm_message("chatting among ourselves", channel=SUPPORT_CHANNEL, channel_type="channel"),
        app_mention("", ts=None),  # a bare mention: nothing to answer
    ],
    ids=["message_changed", "message_deleted", "channel_join", "reaction_added", "channel message without mention", "bare mention"],
)
async def test_events_that_are_not_customer_questions_are_ignored(slack: SlackSystem, event: dict) -> None:
    response = await slack.post(envelope(event))
    await slack.settle()
    assert response.status_code == 200
    assert await slack.count("messages") == 0
    assert slack.fake.posts == []


async def test_agent_channel_messages_go_to_the_hook_not_to_intake(tmp_path: Path, fake: FakeSlackApi) -> None:
    seen = []

    async def hook(event: object) -> None:
        seen.append(event)

    channel = SlackChannel(
        SlackConfig(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=fake.api_url, agent_channel=AGENT_CHANNEL),
        OpenLimiter(),
        on_agent_event=hook,
    )
    async with slack_system(tmp_path) as slack:
        # The system's own channel has no hook: agent-channel traffic is dropped, not answered.
        response = await slack.post(envelope(app_mention("customer asks X", channel=AGENT_CHANNEL, thread_ts="1700000000.000300")))
        await slack.settle()
        assert response.status_code == 200
        assert await slack.count("messages") == 0 and slack.fake.posts == []

        routes = {r.path: r.handler for r in SLACK.routes(channel, slack.runtime.services.intake)}
        from tests.channels.slack_support import signed_headers

        async def deliver(event: dict) -> int:
            body = json.dumps(envelope(event)).encode()
            headers = {k.lower(): v for k, v in signed_headers(body).items()}
            request = WebRequest("POST", "/webhooks/slack/events", body, headers)
            return (await routes["/webhooks/slack/events"](request)).status

        ts = new_ts()
        thread = {"ts": ts, "channel": AGENT_CHANNEL, "thread_ts": "1700000000.000300"}
        assert await deliver(dm_message("reply to customer", channel_type="channel", **thread)) == 200
        assert await deliver(app_mention("reply to customer", **thread)) == 200  # same message, other type
        assert await deliver(dm_message("bot summary", channel_type="channel", bot_id="BBOT", user=BOT_USER,
                                        channel=AGENT_CHANNEL)) == 200
        assert [e.text for e in seen] == ["reply to customer"]
        assert seen[0].thread_ts == "1700000000.000300"
        assert await slack.count("messages") == 0


# --- delivery failures through the outbox ----------------------------------------------------


async def test_429_with_retry_after_is_delivered_after_the_delay_exactly_once(slack: SlackSystem) -> None:
    slack.fake.script("chat.postMessage", RateLimit(retry_after=1))
    await slack.post(envelope(dm_message("I lost my card")))
    await slack.settle()

    attempts = slack.fake.calls_to("chat.postMessage")
    assert [c.accepted for c in attempts] == [False, True]  # no retry inside the client
    assert attempts[1].at - attempts[0].at >= 0.95
    assert len(slack.fake.posts) == 1
    [outbound] = await slack.rows("outbox")
    assert outbound["status"] == "sent"
    assert outbound["attempts"] == 2
    assert "retry after 1s" in outbound["last_error"]


async def test_channel_not_found_dead_letters_the_reply_with_the_reason(slack: SlackSystem) -> None:
    slack.fake.script("chat.postMessage", ApiError("channel_not_found"))
    await slack.post(envelope(dm_message("I lost my card")))
    await slack.settle()

    assert len(slack.fake.calls_to("chat.postMessage")) == 1  # permanent: never retried
    assert slack.fake.posts == []
    [outbound] = await slack.rows("outbox")
    assert outbound["status"] == "failed"
    assert outbound["last_error"] == "channel_not_found"


# --- send(), directly against the fake Web API -----------------------------------------------


async def test_5000_character_answer_is_split_in_order_within_the_thread(fake: FakeSlackApi) -> None:
    paragraphs = [f"Paragraph {i}: " + ("lorem ipsum dolor sit amet " * 20).strip() + "." for i in range(9)]
    text = "\n\n".join(paragraphs)
    text = text + " " + "x" * (5000 - len(text) - 1)
    assert len(text) == 5000

    delivered = await direct_channel(fake).send(reply(text))

    posts = fake.posts
    assert len(posts) == 2
    assert all(len(p.text) <= 3000 for p in posts)
    assert all(p.thread_ts == "1700000000.000100" and p.channel == SUPPORT_CHANNEL for p in posts)
    assert posts[0].text.endswith(".")  # cut at a paragraph break, not mid-sentence
    assert posts[0].text + "\n\n" + posts[1].text == text
    assert delivered.platform_message_id == posts[0].ts


async def test_split_never_cuts_an_escape_or_exceeds_the_limit(fake: FakeSlackApi) -> None:
    text = "&" * 1000 + "<>" * 500  # escapes to 5 and 4 characters each: 9,000 escaped
    await direct_channel(fake).send(reply(text))
    posts = fake.posts
    assert len(posts) >= 3 and all(len(p.text) <= 3000 for p in posts)
    joined = "".join(p.text for p in posts)
    assert joined == "&amp;" * 1000 + "&lt;&gt;" * 500


async def test_mrkdwn_control_characters_are_escaped(fake: FakeSlackApi) -> None:
    await direct_channel(fake).send(reply("a < b && c > d, ping <@U123> <!channel> *bold*", thread_ts=""))
    [post] = fake.posts
    assert post.text == "a &lt; b &amp;&amp; c &gt; d, ping &lt;@U123&gt; &lt;!channel&gt; *bold*"
    assert post.thread_ts is None


async def test_buttons_become_an_actions_block_with_a_text_fallback(fake: FakeSlackApi) -> None:
    buttons = (Button("Freeze card", "freeze"), Button("Talk to a person <now>", "agent"))
    await direct_channel(fake).send(reply("What would you like to do?", buttons=buttons))

    [post] = fake.posts
    assert post.text == "What would you like to do?\n\n1. Freeze card\n2. Talk to a person &lt;now&gt;"
    section, actions = post.blocks
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": "What would you like to do?"}}
    assert actions["type"] == "actions"
    assert [(e["text"]["text"], e["value"]) for e in actions["elements"]] == [("Freeze card", "freeze"), ("Talk to a person <now>", "agent")]
    assert len({e["action_id"] for e in actions["elements"]}) == 2


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "is_archived", "account_inactive", "invalid_auth"])
async def test_permanent_slack_errors_raise_permanent_delivery_error(fake: FakeSlackApi, code: str) -> None:
    fake.script("chat.postMessage", ApiError(code))
    with pytest.raises(PermanentDeliveryError) as caught:
        await direct_channel(fake).send(reply("hello"))
    assert caught.value.reason == code
    assert fake.posts == []


async def test_a_wrong_token_is_a_permanent_failure(fake: FakeSlackApi) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        await direct_channel(fake, bot_token="xoxb-revoked").send(reply("hello"))
    assert caught.value.reason == "invalid_auth"
    assert "xoxb" not in str(caught.value)


async def test_429_raises_rate_limited_with_retry_after_and_is_not_retried_by_the_client(fake: FakeSlackApi) -> None:
    fake.script("chat.postMessage", RateLimit(retry_after=7))
    with pytest.raises(RateLimited) as caught:
        await direct_channel(fake).send(reply("hello"))
    assert caught.value.retry_after == 7
    assert caught.value.channel == "slack"
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_server_errors_and_unreachable_slack_are_transient(fake: FakeSlackApi) -> None:
    fake.script("chat.postMessage", ServerError(503))
    with pytest.raises(TransientDeliveryError):
        await direct_channel(fake).send(reply("hello"))

    closed = FakeSlackApi(token=BOT_TOKEN)
    await closed.start()
    url = closed.api_url
    await closed.stop()
    channel = SlackChannel(SlackConfig(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=url), OpenLimiter())
    with pytest.raises(TransientDeliveryError) as caught:
        await channel.send(reply("hello"))
    assert "network" in caught.value.reason


async def test_a_slow_but_accepted_post_is_not_posted_twice(fake: FakeSlackApi) -> None:
    fake.script("chat.postMessage", Slow(2.5))
    with pytest.raises(TransientDeliveryError):
        await direct_channel(fake, timeout_seconds=1).send(reply("hello"))
    await asyncio.sleep(1.7)  # let the slow request finish on the server side
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert len(fake.posts) == 1  # Slack has it; only the outbox may decide to try again


async def test_the_per_channel_budget_says_wait_without_sleeping_or_posting(fake: FakeSlackApi) -> None:
    limiter = OpenLimiter(waits=[0.8])
    started = time.perf_counter()
    with pytest.raises(RateLimited) as caught:
        await direct_channel(fake, limiter).send(reply("hello"))
    assert time.perf_counter() - started < 0.5
    assert caught.value.retry_after == pytest.approx(0.8)
    assert limiter.keys == [f"slack:{SUPPORT_CHANNEL}"]
    assert fake.calls == []


async def test_a_split_reply_interrupted_by_a_429_resumes_without_reposting(fake: FakeSlackApi) -> None:
    channel = direct_channel(fake)
    message = reply("\n\n".join(["word " * 500] * 3))  # three parts of ~2,500 characters
    fake.script("chat.postMessage", Slow(0), RateLimit(retry_after=1))
    with pytest.raises(RateLimited):
        await channel.send(message)
    assert len(fake.posts) == 1

    await channel.send(message)
    assert len(fake.posts) == 3
    assert [p.text for p in fake.posts] == [("word " * 500).strip()] * 3


async def test_reply_without_metadata_finds_the_thread_from_the_conversation_key(fake: FakeSlackApi) -> None:
    message = OutboundMessage(id=2, channel="slack", conversation_key=f"{SUPPORT_CHANNEL}:1700000000.000900",
                              text="from an agent", idempotency_key="agent:1")
    await direct_channel(fake).send(message)
    [post] = fake.posts
    assert (post.channel, post.thread_ts) == (SUPPORT_CHANNEL, "1700000000.000900")


def test_config_keeps_secrets_out_of_repr() -> None:
    config = SlackConfig(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET)
    assert BOT_TOKEN not in repr(config) and SIGNING_SECRET not in repr(config)
    with pytest.raises(ValueError):
        SlackConfig(bot_token="", signing_secret=SIGNING_SECRET)


async def test_the_fake_web_api_speaks_json_and_form_bodies_and_checks_the_token(fake: FakeSlackApi) -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    assert (await client.auth_test())["user_id"] == BOT_USER
    assert (await client.conversations_info(channel=DM_CHANNEL))["channel"]["is_im"] is True
    posted = await client.api_call("chat.postMessage", data={"channel": DM_CHANNEL, "text": "form body",
                                                               "blocks": json.dumps([{"type": "divider"}])})
    updated = await client.chat_update(channel=DM_CHANNEL, ts=posted["ts"], text="edited")
    assert updated["ts"] == posted["ts"]
    form_post = fake.posts[0]
    assert form_post.content_type == "application/x-www-form-urlencoded"
    assert form_post.text == "form body" and form_post.blocks == [{"type": "divider"}]
    assert fake.calls_to("chat.update")[0].params["text"] == "edited"
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test()
    assert caught.value.response["error"] == "invalid_auth"
