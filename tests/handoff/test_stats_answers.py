"""`/csbot stats` answer-level figures: the 👍 rate, the intents with the most 👎, the intents that
most often end with a person. Rows go into the real tables (both databases), the way the turns,
the desk and the feedback buttons write them; `SqlStats` and `format_stats` read them back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.stats import NO_INTENT, Stats, format_stats, intent_of, top_intents
from infra.db.engine import make_engine, make_sessions
from infra.db.models import (
    ConversationRow,
    FeedbackRow,
    HandoffRow,
    MessageRow,
    OutboxRow,
)
from infra.db.stats import SqlStats
from tests.conftest import require_services
from tests.handoff.support import DeskSystem
from tests.support.databases import migrated_sqlite

NOW = datetime.now(UTC)
WEEK_AGO = NOW - timedelta(days=7)
LONG_AGO = NOW - timedelta(days=30)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "postgres":
        require_services()
        url = request.getfixturevalue("clean_postgres")
    else:
        url = migrated_sqlite(tmp_path / "stats.db")
    engine = make_engine(url)
    try:
        yield make_sessions(engine)
    finally:
        await engine.dispose()


class Tables:
    """Writes rows as the system does, with the times a test needs."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._keys = 0

    async def _add(self, row: Any) -> Any:
        async with self._sessions.begin() as session:
            session.add(row)
            await session.flush()
            return row

    async def conversation(self, channel: str = "telegram") -> int:
        self._keys += 1
        row = await self._add(ConversationRow(channel=channel, conversation_key=f"k{self._keys}", customer_id=f"u{self._keys}"))
        return int(row.id)

    async def message(self, conversation: int, understanding: dict[str, Any], *, at: datetime = NOW,
                      status: str = "answered") -> int:
        self._keys += 1
        row = await self._add(MessageRow(conversation_id=conversation, channel="telegram", platform_message_id=f"p{self._keys}",
                                         sender_id="u", text="hello", status=status, understanding=understanding,
                                         received_at=at))
        return int(row.id)

    async def answer(self, conversation: int, message: int | None, *, at: datetime = NOW) -> int:
        self._keys += 1
        row = await self._add(OutboxRow(conversation_id=conversation, in_reply_to=message, idempotency_key=f"reply:{self._keys}",
                                        channel="telegram", conversation_key="k", text="an answer", status="sent",
                                        created_at=at, sent_at=at))
        return int(row.id)

    async def vote(self, conversation: int, outbound: int | None, score: int, *, at: datetime = NOW,
                   kind: str = "thumbs") -> None:
        await self._add(FeedbackRow(conversation_id=conversation, outbound_id=outbound, kind=kind, score=score, created_at=at))

    async def voted_answer(self, intent: str | None, score: int, *, at: datetime = NOW) -> None:
        conversation = await self.conversation()
        message = await self.message(conversation, {"intent": intent} if intent is not None else {}, at=at)
        await self.vote(conversation, await self.answer(conversation, message, at=at), score, at=at)

    async def handoff(self, conversation: int, opened_by: int | None, *, at: datetime = NOW, rule: str = "trigger_phrase") -> int:
        row = await self._add(HandoffRow(conversation_id=conversation, state="resolved", reason="r", rule=rule, created_at=at,
                                         message_id=opened_by))
        return int(row.id)

    async def escalated(self, conversation: int, intent: str | None, *, at: datetime, status: str = "answered",
                        handed_over: bool = True) -> int:
        understanding: dict[str, Any] = {"escalation": {"rule": "trigger_phrase", "reason": "r", "handed_over": handed_over}}
        if intent is not None:
            understanding["intent"] = intent
        return await self.message(conversation, understanding, at=at, status=status)


async def stats(sessions: async_sessionmaker[AsyncSession]) -> Stats:
    return await SqlStats(sessions).stats(WEEK_AGO, days=7)


# --- 👍 rate and 👎 by intent -------------------------------------------------------------------------


async def test_thumbs_up_rate_and_the_intents_with_most_thumbs_down(sessions: async_sessionmaker[AsyncSession]) -> None:
    tables = Tables(sessions)
    await tables.voted_answer("card_limits", -1)
    await tables.voted_answer("card_limits", -1)
    await tables.voted_answer("opening_hours", +1)
    await tables.voted_answer("fees", +1)
    await tables.voted_answer("fees", -1)
    await tables.voted_answer(None, -1)  # a message the NLU gave no intent
    await tables.voted_answer("unknown", +1)  # no intent model: "unknown" is no intent either
    lost = await tables.conversation()
    await tables.vote(lost, None, -1)  # the answer's outbox row is gone (SET NULL)
    await tables.voted_answer("old_topic", -1, at=LONG_AGO)  # outside the window
    rated = await tables.conversation()
    await tables.vote(rated, await tables.answer(rated, None), 1, kind="rating")  # a rating is no vote

    result = await stats(sessions)

    assert (result.votes, result.thumbs_up) == (8, 3)
    assert result.thumbs_up_rate == pytest.approx(3 / 8)
    assert result.downvoted_intents == ((NO_INTENT, 2), ("card_limits", 2), ("fees", 1))
    text = format_stats(result)
    assert "• 👍 rate: 38% of 8 answer vote(s) (3 👍)" in text
    assert "• most 👎 by intent: (no intent) 2, card_limits 2, fees 1" in text
    assert "• CSAT: 0% of 1 rating(s) were 4–5; average 1.00/5" in text


# --- handoffs by intent -------------------------------------------------------------------------------


async def test_handoffs_count_against_the_intent_of_the_message_that_opened_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tables = Tables(sessions)
    t = NOW - timedelta(hours=2)

    first = await tables.conversation()
    await tables.message(first, {"intent": "greeting"}, at=t)  # answered by the bot before
    lost = await tables.escalated(first, "lost_card", at=t + timedelta(seconds=1))
    await tables.handoff(first, lost, at=t + timedelta(seconds=2))
    await tables.escalated(first, "chitchat", at=t + timedelta(seconds=3), status="relayed")  # said to a person
    fraud = await tables.escalated(first, "fraud", at=t + timedelta(minutes=30))  # later, a second handoff
    await tables.handoff(first, fraud, at=t + timedelta(minutes=30, seconds=1))

    second = await tables.conversation("sms")
    await tables.handoff(second, await tables.escalated(second, "lost_card", at=t), at=t + timedelta(seconds=1))

    taken = await tables.conversation()
    await tables.message(taken, {"intent": "fees"}, at=t)
    await tables.handoff(taken, None, at=t + timedelta(seconds=5), rule="admin_takeover")  # no message opened it

    silent = await tables.conversation()
    await tables.handoff(silent, await tables.escalated(silent, None, at=t), at=t + timedelta(seconds=1))  # no intent

    no_desk = await tables.conversation()
    await tables.escalated(no_desk, "complaint", at=t, handed_over=False)  # no desk: the bot answered

    old = await tables.conversation()
    await tables.handoff(old, await tables.escalated(old, "old_topic", at=LONG_AGO), at=LONG_AGO + timedelta(seconds=1))

    result = await stats(sessions)

    assert result.handoff_intents == (("lost_card", 2), (NO_INTENT, 1), ("fraud", 1))
    assert "• most handoffs by intent: lost_card 2, (no intent) 1, fraud 1" in format_stats(result)


async def test_an_empty_window_says_so(sessions: async_sessionmaker[AsyncSession]) -> None:
    result = await stats(sessions)
    assert (result.votes, result.thumbs_up, result.downvoted_intents, result.handoff_intents) == (0, 0, (), ())
    text = format_stats(result)
    assert "• 👍 rate: n/a of 0 answer vote(s) (0 👍)" in text
    assert "• most 👎 by intent: none" in text and "• most handoffs by intent: none" in text


# --- the pure parts -------------------------------------------------------------------------------------


def test_at_most_five_intents_most_frequent_first_ties_by_name() -> None:
    intents = ["a"] * 1 + ["b"] * 3 + ["c"] * 2 + ["d"] * 3 + ["e"] * 1 + ["f"] * 4 + ["g"] * 1
    assert top_intents(intents) == (("f", 4), ("b", 3), ("d", 3), ("c", 2), ("a", 1))


@pytest.mark.parametrize(
    ("understanding", "intent"),
    [({"intent": "lost_card"}, "lost_card"), ({"intent": "unknown"}, NO_INTENT), ({"intent": ""}, NO_INTENT),
     ({}, NO_INTENT), (None, NO_INTENT)],
)
def test_intent_of_an_analysed_message(understanding: dict[str, Any] | None, intent: str) -> None:
    assert intent_of(understanding) == intent


# --- through the command ----------------------------------------------------------------------------------


async def test_the_stats_command_shows_the_answer_figures(desk: DeskSystem) -> None:
    await desk.telegram_message("Can I talk to a human please?")
    await desk.settle()
    tables = Tables(make_sessions(desk.runtime.db))
    await tables.voted_answer("card_limits", -1)
    await tables.voted_answer("fees", +1)

    answer = await desk.admin("stats 7")

    assert "• 👍 rate: 50% of 2 answer vote(s) (1 👍)" in answer
    assert "• most 👎 by intent: card_limits 1" in answer
    assert "• most handoffs by intent: (no intent) 1" in answer  # the test bot has no intent model
