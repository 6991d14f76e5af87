"""The pipeline end to end: intake → job → engine → LLM server → outbox → channel.

Every test runs twice: on SQLite with in-process jobs, and on PostgreSQL + Redis + a real
Celery worker.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from core.errors import RateLimited
from infra.db.models import OutboxRow
from tests.conftest import Pipeline
from tests.fakes.llm_server import FakeLLMServer


async def outbox_rows(pipeline: Pipeline, *, settled: bool = True, timeout: float = 10.0) -> list[OutboxRow]:
    """The outbox, once no row is mid-send (the channel sees a message just before the worker
    records it as sent)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        async with pipeline.runtime.store._sessions() as session:
            rows = list((await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all())
        if not settled or all(r.status in ("sent", "failed") for r in rows) or loop.time() > end:
            return rows
        await asyncio.sleep(0.05)


async def test_reply_is_grounded_and_remembers_the_previous_turn(pipeline: Pipeline, fake_llm: FakeLLMServer) -> None:
    await pipeline.submit("I lost my card", message_id="m1")
    first = await pipeline.wait_sent(1)
    assert "Freeze your card" in first[0].text

    await pipeline.submit("When are your branches open?", message_id="m2")
    sent = await pipeline.wait_sent(2)
    assert "Monday to Friday" in sent[1].text
    request = fake_llm.requests[-1]
    system = request["messages"][0]["content"]
    assert "Branches are open Monday to Friday" in system  # the retrieved passage
    history = [(m["role"], m["content"]) for m in request["messages"][1:]]
    assert ("user", "I lost my card") in history  # the previous turn
    assert history[-1] == ("user", "When are your branches open?")


async def test_chinese_question_gets_chinese_passage_and_answer(pipeline: Pipeline, fake_llm: FakeLLMServer) -> None:
    await pipeline.submit("我的账户被盗了，该怎么办？", message_id="zh1")
    [reply] = await pipeline.wait_sent(1)
    assert "冻结账户" in reply.text
    assert reply.language == "zh"
    assert "Reply in Chinese" in fake_llm.requests[0]["messages"][0]["content"]


async def test_same_message_delivered_five_times_concurrently_is_answered_once(pipeline: Pipeline) -> None:
    results = await asyncio.gather(*(pipeline.submit("I lost my card", message_id="dup") for _ in range(5)))
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.message_id for r in results}) == 1
    await pipeline.wait_sent(1)
    await asyncio.sleep(1.0)  # give a wrongly duplicated job time to show itself
    await pipeline.settle()
    assert len(pipeline.channel.sent) == 1
    assert len(await outbox_rows(pipeline)) == 1


async def test_ten_messages_in_one_conversation_are_answered_in_order(pipeline: Pipeline) -> None:
    for i in range(10):
        await pipeline.submit(f"#{i} when are you open?", message_id=f"o{i}")
    sent = await pipeline.wait_sent(10, timeout=60)
    assert [m.text.split()[0] for m in sent] == [f"#{i}" for i in range(10)]


async def test_llm_overload_is_retried_then_answered(pipeline: Pipeline, fake_llm: FakeLLMServer) -> None:
    fake_llm.fail(429, "overloaded", times=2)
    await pipeline.submit("I lost my card", message_id="r1")
    [reply] = await pipeline.wait_sent(1)
    assert reply.text.startswith("From 'Lost or stolen card'")
    assert len(fake_llm.requests) == 3


async def test_llm_down_falls_back_to_the_knowledge_base(pipeline: Pipeline, fake_llm: FakeLLMServer) -> None:
    fake_llm.fail(503, "unavailable", times=10)
    await pipeline.submit("I lost my card", message_id="f1")
    [reply] = await pipeline.wait_sent(1)
    assert "Freeze your card at once" in reply.text  # the passage itself
    assert not reply.text.startswith("From '")  # not an LLM answer
    rows = await outbox_rows(pipeline)
    assert rows[0].source == "knowledge_fallback"


async def test_no_match_says_it_does_not_know_without_asking_the_llm(pipeline: Pipeline, fake_llm: FakeLLMServer) -> None:
    fake_llm.fail(500, "incomplete_generation", times=10)
    await pipeline.submit("Tell me about quantum chromodynamics", message_id="h1")
    [reply] = await pipeline.wait_sent(1)
    # No agent desk in this pipeline: the no-answer text does not invite a hand-over nobody takes.
    assert reply.text == "I'm sorry, I don't have an answer to that. Could you put it another way?"
    assert fake_llm.requests == []  # nothing to ground on: the model would only guess
    rows = await outbox_rows(pipeline)
    assert rows[0].source == "no_match"


async def test_error_inside_a_200_stream_is_retried(pipeline: Pipeline, fake_llm: FakeLLMServer) -> None:
    from tests.fakes.llm_server import Behaviour

    fake_llm.then(Behaviour("stream_error"))
    await pipeline.submit("I lost my card", message_id="s1")
    [reply] = await pipeline.wait_sent(1)
    assert reply.text.startswith("From 'Lost or stolen card'")
    assert len(fake_llm.requests) == 2


async def test_rate_limited_send_waits_for_retry_after_and_sends_once(pipeline: Pipeline) -> None:
    pipeline.channel.failures.append(RateLimited("test", retry_after=1.0))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await pipeline.submit("I lost my card", message_id="rl1")
    await pipeline.wait_sent(1)
    assert loop.time() - started >= 1.0
    await asyncio.sleep(0.5)
    assert len(pipeline.channel.sent) == 1
    [row] = await outbox_rows(pipeline)
    assert row.status == "sent" and row.attempts == 2 and "retry after 1s" in row.last_error


async def test_a_reply_behind_a_rate_limited_one_waits_its_turn(pipeline: Pipeline) -> None:
    """A turn sends its own reply only when nothing earlier of the conversation waits: here the
    first reply waits out a rate limit, so the second goes to the delivery job, behind it."""
    pipeline.channel.failures.append(RateLimited("test", retry_after=1.0))
    await pipeline.submit("#1 when are you open?", message_id="w1")
    loop = asyncio.get_running_loop()
    end = loop.time() + 30
    while not [r for r in await outbox_rows(pipeline, settled=False) if r.attempts == 1]:
        assert loop.time() < end, "the first reply was never rate limited"
        await asyncio.sleep(0.05)
    await pipeline.submit("#2 when are you open?", message_id="w2")
    sent = await pipeline.wait_sent(2)
    assert [m.text.split()[0] for m in sent] == ["#1", "#2"]
    rows = await outbox_rows(pipeline)
    assert [(r.status, r.attempts) for r in rows] == [("sent", 2), ("sent", 1)]


@pytest.mark.embedded_generator
async def test_embedded_generator_quotes_the_knowledge_base(pipeline: Pipeline) -> None:
    await pipeline.submit("my card was stolen", message_id="e1")
    await pipeline.submit("quantum chromodynamics", message_id="e2")
    sent = await pipeline.wait_sent(2)
    assert sent[0].text.startswith("Here is what our help centre says:")
    assert "Freeze your card at once in the app" in sent[0].text
    assert sent[1].text.startswith("I'm sorry, I don't have an answer to that.")


async def test_an_unexpected_error_in_a_channel_is_retried_not_stranded(pipeline: Pipeline) -> None:
    pipeline.channel.failures.append(RuntimeError("bug in an adapter"))
    await pipeline.submit("I lost my card", message_id="bug1")
    [reply] = await pipeline.wait_sent(1, timeout=30)
    assert "Freeze your card" in reply.text
    [row] = await outbox_rows(pipeline)
    assert row.status == "sent" and "RuntimeError: bug in an adapter" in row.last_error


async def test_llm_timeout_is_retried_then_answered(pipeline: Pipeline, fake_llm: FakeLLMServer) -> None:
    from tests.fakes.llm_server import Behaviour

    fake_llm.then(Behaviour(delay=3.0))  # the test bot's generation timeout is 2 s
    await pipeline.submit("I lost my card", message_id="t1")
    [reply] = await pipeline.wait_sent(1)
    assert reply.text.startswith("From 'Lost or stolen card'")
    assert len(fake_llm.requests) == 2
