"""A worker killed while an answer streams on Slack: the re-run goes on in the same visible
message and the customer ends up with one final answer, not a partial plus a second message.

The Slack counterpart of `tests/test_stream_crash.py`: a real `celery worker` (prefork) in a
subprocess with the Slack channel pointed at the fake Web API, real Redis and PostgreSQL, the
slow streaming fake LLM; the Events API webhook is served in this process. The worker's child is
SIGKILLed once two partials are on screen, in both of Slack's ways of showing them:

- a mention in a channel is answered in its thread through the streaming API
  (`chat.startStream` / `chat.appendStream`); the re-run, which does not know what was
  appended, stops the stream and replaces its text with `chat.update`;
- a DM (no thread) shows partials in a plain message, `chat.postMessage` then `chat.update`.

Either way the final answer is a `chat.update` of that same message, carrying the vote buttons.
The fake Slack API runs on this test's event loop, so every wait here yields to it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.channels.slack_support import (
    BOT_TOKEN,
    BOT_USER,
    DM_CHANNEL,
    EVENTS,
    SIGNING_SECRET,
    SUPPORT_CHANNEL,
    app_mention,
    dm_message,
    envelope,
    signed_headers,
)
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import Call, FakeSlackApi
from tests.support.waiting import eventually
from tests.support.platform_stack import platform_stack
from tests.support.worker_process import children
from tests.test_streaming import ANSWER, QUESTION, patient_bot, slow_answer

LAST_WORD = ANSWER.split()[-1]
SHOWING = ("chat.postMessage", "chat.startStream", "chat.appendStream", "chat.stopStream", "chat.update")
OPENING = ("chat.postMessage", "chat.startStream")


@dataclass(frozen=True)
class Place:
    """Where the customer wrote, and how Slack shows the answer growing there."""

    channel: str
    event: Callable[[str], dict[str, Any]]
    opens_with: str  # the call that first puts the answer on screen
    partials: tuple[str, ...]  # the calls that show a partial before the kill


THREAD = Place(SUPPORT_CHANNEL, app_mention, "chat.startStream", ("chat.startStream", "chat.appendStream"))
DM = Place(DM_CHANNEL, dm_message, "chat.postMessage", ("chat.postMessage", "chat.update"))


def showing(slack: FakeSlackApi, channel: str, since: int = 0) -> list[Call]:
    """The calls Slack accepted that changed what the channel shows, in order."""
    return [c for c in slack.calls[since:] if c.method in SHOWING and c.accepted and c.channel == channel]


def is_final(call: Call) -> bool:
    """The final answer is the update that brings the vote buttons; partials carry no blocks."""
    return call.method == "chat.update" and bool(call.blocks)


def sequence(calls: list[Call]) -> list[str]:
    return [f"{c.method}{' +blocks' if c.blocks else ''} ts={c.ts}" for c in calls]


async def outbox(runtime: Any) -> list[dict[str, Any]]:
    async with runtime.db.connect() as connection:
        result = await connection.execute(text(
            "SELECT status, attempts, last_error, platform_message_id FROM outbox ORDER BY id"))
        return [dict(row._mapping) for row in result]


@pytest.mark.slow
@pytest.mark.parametrize("place", [THREAD, DM], ids=["channel-thread", "dm"])
async def test_worker_killed_mid_stream_on_slack_leaves_one_message_holding_the_final_answer(
    place: Place, clean_postgres: str, clean_redis: str, tmp_path: Path
) -> None:
    bot = patient_bot(tmp_path)
    slack = await FakeSlackApi(token=BOT_TOKEN, bot_user_id=BOT_USER).start()
    channel_env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.api_url}
    try:
        with FakeLLMServer(default=slow_answer()) as llm:
            async with platform_stack(clean_postgres, clean_redis, llm.url, bot, tmp_path, channel_env) as stack:
                worker, runtime, client = stack.worker, stack.runtime, stack.client
                event = place.event(QUESTION)
                body = json.dumps(envelope(event)).encode()
                response = await client.post(EVENTS, content=body, headers=signed_headers(body))
                assert response.status_code == 200

                await eventually(lambda: len(showing(slack, place.channel)) >= 2, timeout=90)
                [child] = children(worker.pid)
                os.kill(child, signal.SIGKILL)  # mid-stream, as the OOM killer would
                killed_at = len(slack.calls)
                before = showing(slack, place.channel)
                assert [c.method for c in before[:2]] == list(place.partials), sequence(before)
                opened = before[0]
                on_screen = slack.messages[opened.ts]["text"]
                assert on_screen and LAST_WORD not in on_screen, "killed before the answer was complete"

                async def delivered() -> bool:
                    rows = await outbox(runtime)
                    return bool(rows) and rows[0]["status"] == "sent" and len(llm.requests) >= 2

                await eventually(delivered, timeout=120)
                await asyncio.sleep(3)  # a second message would show up now
                calls = showing(slack, place.channel)
                print(f"{place.channel}: killed after {len(before)} calls;", *sequence(calls), sep="\n  ")

                assert [c.method for c in calls if c.method in OPENING] == [place.opens_with], (
                    "the re-run went on in the streamed message, it opened no other: " + ", ".join(sequence(calls)))
                assert {c.ts for c in calls} == {opened.ts}, "every call showed the same message"
                [message] = slack.visible(place.channel)
                assert message["ts"] == opened.ts and not message["streaming"]
                assert message["text"].startswith(ANSWER[:40]) and LAST_WORD in message["text"], message["text"]
                assert message["blocks"], "the final answer carries the vote buttons"
                if place is THREAD:
                    assert message["thread_ts"] == event["ts"], "the answer is in the mention's thread"
                again = showing(slack, place.channel, since=killed_at)
                assert [c for c in again[:-1] if c.method == "chat.update" and not c.blocks], (
                    "the re-run went on showing partials in the same message: " + ", ".join(sequence(again)))
                assert [c for c in calls if is_final(c)] == [calls[-1]], "one final answer, the last call"
                assert len(llm.requests) == 2, "the killed generation and the re-run's"
                [row] = await outbox(runtime)  # `attempts` counts the successful send too
                assert row == {"status": "sent", "attempts": 1, "last_error": "", "platform_message_id": opened.ts}, row
    finally:
        await slack.stop()
