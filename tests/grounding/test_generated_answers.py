"""Every generated answer is checked before it is stored: regenerate once, then quote the passage.

The fake LLM server invents on the first try and, in the first test, not on the second.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from infra.db.models import MessageRow, OutboxRow
from tests.conftest import Pipeline
from tests.fakes.llm_server import Behaviour, FakeLLMServer

INVENTED = "Call our hotline on +1 341 222 222; a new card takes 2–3 business days."


async def stored(pipeline: Pipeline) -> tuple[OutboxRow, dict]:
    await pipeline.settle()
    async with pipeline.runtime.store._sessions() as session:
        [row] = (await session.scalars(select(OutboxRow))).all()
        message = await session.get(MessageRow, row.in_reply_to)
    assert message is not None
    return row, message.understanding


async def test_an_invented_answer_is_regenerated_with_the_claims_named(pipeline: Pipeline, fake_llm: FakeLLMServer) -> None:
    fake_llm.then(Behaviour(text=INVENTED))
    await pipeline.submit("I lost my card", message_id="g1")
    [reply] = await pipeline.wait_sent(1)

    assert reply.text.startswith("From 'Lost or stolen card': Freeze your card")  # the second, grounded answer
    assert "341" not in reply.text
    first, second = fake_llm.requests
    correction = second["messages"][0]["content"].removeprefix(first["messages"][0]["content"])
    assert "'+1 341 222 222'" in correction and "'2-3 business days'" in correction
    row, analysis = await stored(pipeline)
    assert row.source == "llm"
    assert analysis["grounding"] == {
        "outcome": "regenerated",
        "failed_claims": ["+1 341 222 222", "2-3 business days"],
        "articles": ["lost-card"],
    }


async def test_inventing_twice_falls_back_to_the_passage(pipeline: Pipeline, fake_llm: FakeLLMServer) -> None:
    fake_llm.then(Behaviour(text=INVENTED), Behaviour(text="Please call 0800 999 999 to block it."))
    await pipeline.submit("I lost my card", message_id="g2")
    [reply] = await pipeline.wait_sent(1)

    assert len(fake_llm.requests) == 2  # once, once more, then no third try
    assert "Call 0800 111 222 any time" in reply.text and "999" not in reply.text
    row, analysis = await stored(pipeline)
    assert row.source == "knowledge_fallback"
    assert analysis["grounding"]["outcome"] == "fallen_back"
    assert analysis["grounding"]["failed_claims"] == ["+1 341 222 222", "2-3 business days", "0800 999 999"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_grounded_answer_goes_out_first_time(pipeline: Pipeline, fake_llm: FakeLLMServer) -> None:
    fake_llm.then(Behaviour(text="Freeze it in the app, or phone 0800-111-222 any time."))
    await pipeline.submit("I lost my card", message_id="g3")
    [reply] = await pipeline.wait_sent(1)

    assert reply.text == "Freeze it in the app, or phone 0800-111-222 any time."
    assert len(fake_llm.requests) == 1
    _, analysis = await stored(pipeline)
    assert analysis["grounding"]["outcome"] == "grounded"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_stats_count_grounded_regenerated_and_fallen_back_answers(pipeline: Pipeline, fake_llm: FakeLLMServer) -> None:
    from datetime import UTC, datetime, timedelta

    from core.stats import format_stats
    from infra.db.stats import SqlStats

    fake_llm.then(
        Behaviour(text="Freeze it in the app."),  # grounded
        Behaviour(text=INVENTED), Behaviour(text="Freeze it in the app."),  # regenerated
        Behaviour(text=INVENTED), Behaviour(text=INVENTED),  # fallen back
    )
    for number in range(3):
        await pipeline.submit("I lost my card", message_id=f"s{number}", conversation=f"c{number}")
        await pipeline.wait_sent(number + 1)
    stats = await SqlStats(pipeline.runtime.store._sessions).stats(datetime.now(UTC) - timedelta(days=1), days=1)
    assert (stats.grounded, stats.regenerated, stats.fallen_back) == (1, 1, 1)
    assert "generated answers: 1 grounded, 1 regenerated, 1 fallen back" in format_stats(stats)
