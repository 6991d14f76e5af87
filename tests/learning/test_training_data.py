"""The export queries and rules against real tables, on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.export import export
from infra.db.engine import make_engine, make_sessions
from infra.db.training_data import TrainingDataQueries
from infra.settings import load_settings
from tests.conftest import TEST_BOT
from tests.learning import conversations as seeded
from tests.learning.conversations import AGENT_ANSWER, DISLIKED_BOT_ANSWER, PERSONAL
from tests.support.databases import migrated_sqlite


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        url = migrated_sqlite(tmp_path / "csbot.db")
    else:
        url = request.getfixturevalue("clean_postgres")

    seeded.seed_url(url)
    return url


async def run_export(url: str, fmt: str, days: int | None = None) -> tuple[str, list[str]]:
    settings = load_settings(database_url=url, csbot_bot=TEST_BOT, redis_url=None)
    out = io.StringIO()
    progress: list[str] = []
    assert await export(settings, fmt, out, progress.append, days=days) == 0
    return out.getvalue(), progress


async def test_chat_jsonl_is_redacted_and_learns_the_agent_answer(database_url: str) -> None:
    text, progress = await run_export(database_url, "chat-jsonl")
    for value in PERSONAL:
        assert value not in text
    examples = [json.loads(line) for line in text.splitlines()]
    assert len(examples) == 3
    first = examples[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant", "user", "assistant"]
    assert first[0]["content"].startswith(seeded.PERSONA_START)
    assert first[1]["content"] == "Hi, my card [CARD] was charged twice, call me on [PHONE] or mail [EMAIL]"
    # The 👎 bot answer is gone; the agent's answer that followed it stands in its place.
    assert DISLIKED_BOT_ANSWER not in text
    assert first[3]["content"] == "My account number is [ACCOUNT], why was I charged a fee?"
    assert first[4]["content"] == AGENT_ANSWER.replace("12345678", "[ACCOUNT]")
    # The holding message and the question it failed to answer are both dropped.
    assert seeded.HOLDING not in text and "new card" not in text
    second = examples[1]["messages"]
    # A 👎 answer with no agent after it is dropped together with its question.
    assert seeded.UNANSWERED_DISLIKED not in text and "exchange rate" not in text
    assert [m["content"] for m in second[1:]] == ["how do I top up by card?", "Open the app and choose Top up, then Card."]
    assert seeded.FAILED_REPLY not in text and "bank transfer" not in text
    assert "1 disliked answers replaced" in progress[-1] and "2 turns dropped" in progress[-1]


async def test_days_limits_the_export_to_recent_conversations(database_url: str) -> None:
    everything, _ = await run_export(database_url, "chat-jsonl")
    recent, _ = await run_export(database_url, "chat-jsonl", days=7)
    assert seeded.OLD_QUESTION in everything
    assert seeded.OLD_QUESTION not in recent
    assert len(recent.splitlines()) == 2


async def test_intents_csv_has_predicted_and_corrected_intents_redacted(database_url: str) -> None:
    import csv

    text, progress = await run_export(database_url, "intents-csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["text", "predicted", "corrected"]
    assert len(rows) == 1 + 7
    for value in PERSONAL:
        assert value not in text
    assert ["My account number is [ACCOUNT], why was I charged a fee?", "card_payment_fee_charged", "extra_charge_on_statement"] in rows
    assert ["how do I top up by card?", "", ""] in rows
    assert "7 rows written (1 with a corrected intent)" in progress[-1]
    recent, _ = await run_export(database_url, "intents-csv", days=7)
    assert len(recent.splitlines()) == 1 + 6


async def test_corrections_are_the_messages_with_a_corrected_intent(database_url: str) -> None:
    engine = make_engine(database_url, pooled=False)
    try:
        corrections = await TrainingDataQueries(make_sessions(engine)).corrections()
    finally:
        await engine.dispose()
    assert [(c.text, c.intent) for c in corrections] == [
        ("My account number is 12345678, why was I charged a fee?", "extra_charge_on_statement")
    ]


async def test_logs_stream_in_batches_in_conversation_order(database_url: str) -> None:
    engine = make_engine(database_url, pooled=False)
    try:
        queries = TrainingDataQueries(make_sessions(engine))
        logs = [log async for log in queries.conversation_logs(batch_size=1)]
        since = datetime.now(UTC) - timedelta(days=1)
        recent = [log async for log in queries.conversation_logs(since=since, batch_size=1)]
    finally:
        await engine.dispose()
    assert [log.conversation_id for log in logs] == [1, 2, 3]
    assert [log.conversation_id for log in recent] == [1, 2]
    speakers = [entry.speaker.value for entry in logs[0].entries]
    assert speakers == ["customer", "bot", "customer", "bot", "agent", "customer", "bot"]
    assert [entry.thumbs_down for entry in logs[0].entries].count(True) == 1
