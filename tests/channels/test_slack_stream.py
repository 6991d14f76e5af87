"""The Slack stream view and the final update, through slack_sdk at the fake Web API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from channels.slack.channel import SlackChannel
from channels.slack.config import SlackConfig
from core.messages import OutboundMessage
from core.streaming import STREAM_KEY, StreamTarget
from tests.channels.slack_support import BOT_TOKEN, SIGNING_SECRET
from tests.fakes.slack_api import FakeSlackApi
from tests.support.limiters import OpenLimiter

THREAD = {"channel": "C0HELP", "thread_ts": "1700000000.000100", "user": "UCUST1", "team": "T0001"}


@pytest.fixture
async def slack() -> AsyncIterator[tuple[SlackChannel, FakeSlackApi]]:
    async with FakeSlackApi(token=BOT_TOKEN) as fake:
        config = SlackConfig(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=fake.api_url)
        yield SlackChannel(config, OpenLimiter()), fake


def final(text: str, **metadata: str) -> OutboundMessage:
    return OutboundMessage(id=5, channel="slack", conversation_key="C0HELP:1700000000.000100", text=text,
                           idempotency_key=f"reply:{uuid.uuid4().hex}", metadata=dict(metadata), ask_feedback=True)


async def test_a_thread_streams_by_appending_and_the_final_stops_and_replaces_it(
    slack: tuple[SlackChannel, FakeSlackApi]
) -> None:
    channel, fake = slack
    view, target = channel.stream_view(), StreamTarget(9, "C0HELP:1700000000.000100", THREAD)
    ref = await view.show(target, "Our", None)
    assert ref is not None and ref.startswith("s:")
    assert await view.show(target, "Our branches", ref) == ref
    assert [c.params.get("markdown_text") for c in fake.calls_to("chat.appendStream")] == [" branches"]
    await channel.send(final("Our branches are open on weekdays.", **THREAD, **{STREAM_KEY: ref}))
    [message] = fake.visible("C0HELP")
    assert message["text"] == "Our branches are open on weekdays." and not message["streaming"]
    assert message["blocks"][-1]["block_id"] == "csbot_vote" and not fake.posts


async def test_text_that_does_not_extend_the_stream_replaces_it_as_a_plain_message(
    slack: tuple[SlackChannel, FakeSlackApi]
) -> None:
    """A regenerated answer, or a re-run that does not know what the stream holds, cannot append."""
    channel, fake = slack
    target = StreamTarget(10, "C0HELP:1700000000.000100", THREAD)
    ref = await channel.stream_view().show(target, "Call us on 0800", None)
    assert ref is not None
    rerun = channel.stream_view()  # another process: it never saw what was appended
    new_ref = await rerun.show(target, "Our branches", ref)
    assert new_ref == "m:" + ref[2:], "same message, now replaced by chat.update"
    [message] = fake.visible("C0HELP")
    assert message["text"] == "Our branches" and not message["streaming"]


async def test_a_dm_posts_then_updates_and_a_withdrawn_partial_is_deleted(slack: tuple[SlackChannel, FakeSlackApi]) -> None:
    channel, fake = slack
    target = StreamTarget(11, "D0CUST1", {"channel": "D0CUST1", "thread_ts": "", "user": "UCUST1", "team": "T0001"})
    ref = await channel.stream_view().show(target, "Our <b>", None)
    assert ref is not None and ref.startswith("m:") and not fake.calls_to("chat.startStream")
    assert fake.visible("D0CUST1")[0]["text"] == "Our &lt;b&gt;", "partials are escaped like every reply"
    await channel.stream_view().withdraw(target, ref)
    assert fake.visible("D0CUST1") == []
