"""Streaming replies end to end: a slow streaming LLM (the fake TGI server), real PostgreSQL,
Redis and a Celery worker, the channels built from settings and driven through their SDKs at
the fake platform servers. A 4-second, 60-word answer must show at least two partials, the
first within 2.5 s of the customer's message, and leave exactly one final message."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import text

from bots.runtime import build_runtime
from bots.web import create_app
from infra.settings import load_settings
from tests.conftest import TEST_BOT, worker_queues
from tests.channels.slack_support import (
    BOT_TOKEN,
    DM_CHANNEL,
    SIGNING_SECRET,
    SUPPORT_CHANNEL,
    app_mention,
    dm_message,
    envelope,
    signed_headers,
)
from tests.fakes.llm_server import Behaviour, FakeLLMServer
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support.waiting import eventually
from tests.support.worker import worker_app

TG_TOKEN = "987654321:AAE-stream_token-value-0123456789abcd"
TG_SECRET = "stream-secret_0123456789"
BOT_USERNAME = "acme_support_bot"
QUESTION = "when are you open?"
# Sixty words, nothing a grounding check could object to (no numbers, phones or links).
ANSWER = (
    "Our branches and the support desk are open on weekdays from the morning until the early evening. "
    "On weekends the branches stay closed, but the app and online banking work all the time, so you can "
    "check balances, move money between your accounts and freeze a card whenever you need to. "
    "If you want to visit a branch, booking an appointment ahead saves waiting at the counter today."
)
WORDS = len(ANSWER.split())
GENERATION_SECONDS = 4.0
FIRST_TOKEN_SECONDS = 0.3
FIRST_PARTIAL_WITHIN = 2.5


def slow_answer(text: str = ANSWER) -> Behaviour:
    """A model taking ~4 s for the answer: first token after 0.3 s, then a word every ~65 ms."""
    return Behaviour(text=text, delay=FIRST_TOKEN_SECONDS, pace=(GENERATION_SECONDS - FIRST_TOKEN_SECONDS) / WORDS)


def telegram_update(update_id: int, chat_id: int, chat_type: str, text: str) -> dict[str, Any]:
    chat = {"id": chat_id, "type": chat_type, **({"title": "Acme customers"} if chat_type != "private" else {})}
    message: dict[str, Any] = {"message_id": update_id, "date": int(time.time()), "chat": chat,
                               "from": {"id": 4242, "is_bot": False, "first_name": "Ana"}, "text": text}
    if chat_type != "private":
        mention = f"@{BOT_USERNAME}"
        message["text"] = f"{mention} {text}"
        message["entities"] = [{"type": "mention", "offset": 0, "length": len(mention)}]
    return {"update_id": update_id, "message": message}


@dataclass
class Stack:
    telegram: FakeTelegramAPI
    slack: FakeSlackApi
    llm: FakeLLMServer
    client: httpx.AsyncClient
    runtime: Any

    async def telegram_message(self, update_id: int, chat_id: int, chat_type: str, text: str = QUESTION) -> float:
        """Post a signed webhook; returns when it was posted (time.time(), as the fakes record)."""
        body = json.dumps(telegram_update(update_id, chat_id, chat_type, text)).encode()
        posted = time.time()
        response = await self.client.post("/webhooks/telegram", content=body, headers={
            "X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"})
        assert response.status_code == 200
        return posted

    async def slack_event(self, event: dict[str, Any]) -> float:
        body = json.dumps(envelope(event)).encode()
        posted = time.time()
        response = await self.client.post("/webhooks/slack/events", content=body, headers=signed_headers(body))
        assert response.status_code == 200
        return posted


def patient_bot(folder: Path) -> Path:
    """The test bot, allowed the 4 s a slow answer takes (its own limit is 2 s per generation)."""
    bot = folder / "bot"
    shutil.copytree(TEST_BOT, bot)
    yaml = bot / "bot.yaml"
    yaml.write_text(yaml.read_text().replace("timeout_seconds: 2\n", "timeout_seconds: 10\n"))
    assert "timeout_seconds: 10" in yaml.read_text()
    return bot


@pytest.fixture
async def stack(clean_postgres: str, clean_redis: str, tmp_path: Path) -> AsyncIterator[Stack]:
    telegram = FakeTelegramAPI(TG_TOKEN, username=BOT_USERNAME).start()
    slack = await FakeSlackApi(token=BOT_TOKEN).start()
    with FakeLLMServer(default=slow_answer()) as llm:
        settings = load_settings(
            csbot_bot=patient_bot(tmp_path), database_url=clean_postgres, redis_url=clean_redis, llm_base_url=llm.url,
            telegram_bot_token=TG_TOKEN, telegram_webhook_secret=TG_SECRET, telegram_api_url=telegram.url,
            slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
        )
        runtime = await build_runtime(settings, platform_channels=True, migrate=False)
        app = worker_app(settings, None, platform_channels=True)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://test")
        try:
            with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False,
                              queues=worker_queues(settings), shutdown_timeout=30):
                stack = Stack(telegram, slack, llm, client, runtime)
                await warm_up(stack)
                yield stack
        finally:
            await client.aclose()
            await runtime.close()
            telegram.stop()
            await slack.stop()


WARM_UP_CHAT = 999


async def warm_up(stack: Stack) -> None:
    """One quick turn first: a fresh worker loads its models on its first job, which is start-up
    time, not the time to a first partial this suite measures."""
    stack.llm.then(Behaviour(text="Warming up the branches answer."))
    await stack.telegram_message(4000, WARM_UP_CHAT, "private")
    await eventually(lambda: stack.telegram.sent(WARM_UP_CHAT), timeout=30)


def first_at(calls: list[Any]) -> float:
    return min(c.at for c in calls)


@pytest.mark.slow
async def test_telegram_group_answer_grows_in_one_message_edited_into_the_final(stack: Stack) -> None:
    chat = -100777
    stack.telegram.chat(chat, "supergroup")
    posted = await stack.telegram_message(5001, chat, "supergroup")
    await eventually(lambda: _outbox_sent(stack), timeout=30)
    calls = [c for c in stack.telegram.calls if c.method in ("sendMessage", "editMessageText") and c.params.get("_ok")
             and str(c.params["chat_id"]) == str(chat)]
    assert calls[0].method == "sendMessage", "the first partial is a message replying to the customer"
    partials = calls[:-1]  # the last call is the final answer, an edit of the same message
    assert calls[-1].method == "editMessageText"
    assert len(partials) >= 2, [c.params.get("_visible") for c in calls]
    timing = {"llm request": stack.llm.arrivals[-1] - posted, "first partial": first_at(partials) - posted}
    assert first_at(partials) - posted <= FIRST_PARTIAL_WITHIN, timing
    assert len(stack.telegram.sent(chat)) == 1, "one message in the chat, however many partials"
    [shown] = stack.telegram.visible(chat)
    assert shown.startswith(ANSWER[:40]) and ANSWER.split()[-1] in shown
    gaps = [b.at - a.at for a, b in zip(partials, partials[1:])]
    assert all(gap >= 0.9 for gap in gaps), f"partials kept to one a second: {gaps}"


@pytest.mark.slow
async def test_telegram_private_chat_streams_drafts_then_sends_the_final_once(stack: Stack) -> None:
    chat = 4242
    posted = await stack.telegram_message(5002, chat, "private")
    await eventually(lambda: _outbox_sent(stack), timeout=30)
    drafts = [d for d in stack.telegram.calls_to("sendMessageDraft") if str(d.params["chat_id"]) == str(chat)]
    assert len([d for d in drafts if d.params.get("_ok")]) >= 2
    assert first_at(drafts) - posted <= FIRST_PARTIAL_WITHIN
    assert {int(d.params["draft_id"]) for d in drafts} == {await _message_id(stack)}, "one draft, growing"
    [final] = stack.telegram.sent(chat)
    assert final["_visible"].startswith(ANSWER[:40]) and first_at(drafts) < stack.telegram.calls_to("sendMessage")[-1].at
    assert not stack.telegram.calls_to("editMessageText")


SLACK_PARTIALS = ("chat.postMessage", "chat.startStream", "chat.appendStream", "chat.update", "chat.stopStream")


def slack_calls(stack: Stack, channel: str) -> list[Any]:
    return [c for c in stack.slack.calls if c.method in SLACK_PARTIALS and c.accepted and c.channel == channel]


@pytest.mark.slow
async def test_slack_dm_answer_grows_in_one_message_updated_into_the_final(stack: Stack) -> None:
    posted = await stack.slack_event(dm_message(QUESTION))
    await eventually(lambda: _outbox_sent(stack), timeout=30)
    calls = slack_calls(stack, DM_CHANNEL)
    assert [c.method for c in calls[:2]] == ["chat.postMessage", "chat.update"], "a DM has no thread: post + update"
    partials, final = calls[:-1], calls[-1]
    assert final.method == "chat.update" and len(partials) >= 2
    assert first_at(partials) - posted <= FIRST_PARTIAL_WITHIN
    [message] = stack.slack.visible(DM_CHANNEL)
    assert message["text"].startswith(ANSWER[:40]) and ANSWER.split()[-1] in message["text"]
    assert message["blocks"], "the final carries the vote buttons the partials did not"


@pytest.mark.slow
async def test_slack_thread_answer_streams_then_the_final_replaces_it(stack: Stack) -> None:
    posted = await stack.slack_event(app_mention(QUESTION))
    await eventually(lambda: _outbox_sent(stack), timeout=30)
    calls = slack_calls(stack, SUPPORT_CHANNEL)
    methods = [c.method for c in calls]
    assert methods[0] == "chat.startStream" and "chat.appendStream" in methods
    assert methods[-2:] == ["chat.stopStream", "chat.update"], methods
    start = calls[0]
    assert start.params["recipient_user_id"] and start.params["recipient_team_id"] == "T0001"
    partials = [c for c in calls if c.method in ("chat.startStream", "chat.appendStream")]
    assert len(partials) >= 2 and first_at(partials) - posted <= FIRST_PARTIAL_WITHIN
    [message] = stack.slack.visible(SUPPORT_CHANNEL)
    assert not message["streaming"] and message["thread_ts"] == start.params["thread_ts"]
    assert message["text"].startswith(ANSWER[:40]) and ANSWER.split()[-1] in message["text"]
    assert not stack.slack.posts, "no second message: the stream became the final answer"


async def _outbox_sent(stack: Stack) -> bool:
    """The customer's reply is recorded sent (the warm-up's is the first)."""
    return int(await _scalar(stack, "SELECT count(*) FROM outbox WHERE status = 'sent'")) >= 2


async def _message_id(stack: Stack) -> int:
    return int(await _scalar(stack, "SELECT max(id) FROM messages"))


async def _scalar(stack: Stack, sql: str) -> Any:
    async with stack.runtime.db.connect() as conn:
        return (await conn.execute(text(sql))).scalar()


@pytest.mark.slow
async def test_a_fallback_replaces_the_streamed_text_it_does_not_stand_beside_it(stack: Stack) -> None:
    """The model invents a phone number: the partials stop short of it, grounding rejects the
    answer twice, and the knowledge-base answer replaces the streamed message rather than
    joining it."""
    invented = "Our branches are open on weekdays, and you can always call us on 0800 555 0199 for help."
    stack.llm.then(slow_answer(invented), slow_answer(invented))
    chat = -100778
    stack.telegram.chat(chat, "supergroup")
    await stack.telegram_message(5003, chat, "supergroup")
    await eventually(lambda: _outbox_sent(stack), timeout=30)
    shown = [c.params["_visible"] for c in stack.telegram.calls
             if c.method in ("sendMessage", "editMessageText") and c.params.get("_ok") and str(c.params["chat_id"]) == str(chat)]
    partials = shown[:-1]
    assert partials[-1].startswith("Our branches are open on weekdays"), "the answer streamed up to the number"
    assert not any("0800" in text for text in partials), "the invented number was on screen while streaming"
    [final] = stack.telegram.visible(chat)
    assert "0800" not in final and "Monday to Friday" in final, final
    assert len(stack.telegram.sent(chat)) == 1
