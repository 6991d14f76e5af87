"""Forgetting a customer (`/csbot forget`, `csbot forget`) and the retention period: what a
customer said is gone from the tables and, on SQLite, from the database file and its log; the
desk thread says why; anonymous counts keep `/csbot stats` whole. SQLite with in-process jobs,
and PostgreSQL with Redis and a Celery worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bots.cli import main
from core.retention import FORGOTTEN_NOTE, DayCounts, count_days, with_retained
from core.stats import Stats
from tests.conftest import TEST_BOT, require_services
from tests.handoff.support import (
    AGENT_CHANNEL,
    SLACK_SECRET,
    SLACK_TOKEN,
    SMS_CUSTOMER,
    TG_CHAT,
    DeskSystem,
    desk_system,
    eventually,
)
from workers import jobs

WORDS = "Mortimer-the-hamster"  # what the forgotten customer said; must be nowhere afterwards
OTHER = "Beatrix-the-tortoise"  # another customer's words; must stay


def bot_with_retention(tmp_path: Path, days: int) -> Path:
    folder = tmp_path / "bot"
    folder.mkdir()
    (folder / "knowledge").symlink_to(TEST_BOT / "knowledge")
    yaml = (TEST_BOT / "bot.yaml").read_text(encoding="utf-8")
    (folder / "bot.yaml").write_text(f"{yaml}\nprivacy:\n  retention_days: {days}\n", encoding="utf-8")
    return folder


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
async def desk(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DeskSystem]:
    if request.param == "postgres":
        require_services()
    async with desk_system(tmp_path, backend=request.param, request=request,
                           bot=bot_with_retention(tmp_path, 30)) as system:
        yield system


def database_bytes(tmp_path: Path) -> bytes:
    """The SQLite database file and its write-ahead log, as they sit on disk."""
    files = [p for p in tmp_path.iterdir() if p.name.startswith("desk.db")]
    assert files
    return b"".join(p.read_bytes() for p in files)


async def counts(desk: DeskSystem, channel: str) -> dict[str, int]:
    where = "conversation_id IN (SELECT id FROM conversations WHERE channel = :c)"
    return {
        "conversations": await desk.scalar("SELECT count(*) FROM conversations WHERE channel = :c", c=channel),
        "messages": await desk.scalar("SELECT count(*) FROM messages WHERE channel = :c", c=channel),
        "outbox": await desk.scalar("SELECT count(*) FROM outbox WHERE channel = :c", c=channel),
        "handoffs": await desk.scalar(f"SELECT count(*) FROM handoffs WHERE {where}", c=channel),
    }


async def test_admin_forgets_a_customer_everywhere_and_the_desk_thread_says_so(desk: DeskSystem, tmp_path: Path) -> None:
    await desk.telegram_message(f"My hamster is called {WORDS}. Can I talk to a human please?")
    await desk.sms(f"when are you open? my tortoise is {OTHER}")
    await desk.settle()
    [handoff] = await desk.handoffs()
    thread = handoff["desk_thread_ts"]
    assert thread and (await counts(desk, "telegram"))["messages"] == 1
    before = await desk.admin("stats 7")

    answer = await desk.admin(f"forget telegram {TG_CHAT}")

    assert answer.startswith(f"Forgot telegram customer '{TG_CHAT}': 1 conversation(s) and 1 message(s) erased")
    assert "noted in 1 desk thread(s)" in answer
    await eventually(lambda: FORGOTTEN_NOTE in desk.thread(thread))
    assert await counts(desk, "telegram") == {"conversations": 0, "messages": 0, "outbox": 0, "handoffs": 0}
    assert (await counts(desk, "sms"))["messages"] == 1  # nobody else was forgotten
    texts = " ".join(r["text"] for r in await desk.rows("SELECT text FROM messages UNION ALL SELECT text FROM outbox"))
    assert WORDS not in texts and OTHER in texts
    [audit] = await desk.rows("SELECT user_id, allowed, outcome FROM admin_audit WHERE command = 'forget'")
    assert audit["allowed"] and audit["outcome"] == answer
    # The stats still count the forgotten conversation, anonymously.
    assert "• messages: 2" in before and "• messages: 2" in await desk.admin("stats 7")
    if desk.backend == "sqlite":
        raw = database_bytes(tmp_path)
        assert WORDS.encode() not in raw and OTHER.encode() in raw


async def test_forget_refuses_non_admins_and_bad_arguments_and_erases_nothing(desk: DeskSystem) -> None:
    await desk.telegram_message(f"hello, I am {WORDS}")
    await desk.settle()
    assert "only csbot admins" in await desk.admin(f"forget telegram {TG_CHAT}", user="UNOTADMIN")
    assert "Usage: /csbot forget <channel> <customer>" in await desk.admin("forget telegram")
    assert "No channel 'fax' here" in await desk.admin(f"forget fax {TG_CHAT}")
    assert "Nothing is stored for telegram customer '999'" in await desk.admin("forget telegram 999")
    assert (await counts(desk, "telegram"))["messages"] == 1


async def test_retention_deletes_old_conversations_and_keeps_anonymous_counts(desk: DeskSystem, tmp_path: Path) -> None:
    await desk.telegram_message(f"when are you open? {WORDS}")
    await desk.sms(f"when are you open? {OTHER}")
    await desk.settle()
    old = datetime.now(UTC) - timedelta(days=40)
    for table, column in (("messages", "received_at"), ("outbox", "created_at"), ("conversations", "updated_at")):
        await execute(desk, f"UPDATE {table} SET {column} = :old WHERE channel = 'telegram'", old=old)
    stats_before = await desk.admin("stats 60")

    if desk.backend == "sqlite":
        assert await jobs.retention(desk.runtime.services) == 1
    else:  # the periodic task, through the Celery worker
        from workers.celery_app import RETENTION

        desk.runtime.jobs._app.send_task(RETENTION)  # routed by the app to this run's queue
        await eventually(lambda: _empty(desk, "telegram"))

    assert await counts(desk, "telegram") == {"conversations": 0, "messages": 0, "outbox": 0, "handoffs": 0}
    assert (await counts(desk, "sms"))["messages"] == 1  # recent: kept
    assert "• messages: 2" in stats_before and "• messages: 2" in await desk.admin("stats 60")
    assert "• messages: 1" in await desk.admin("stats 7")  # the old one counts on its own day
    [retained] = await desk.rows("SELECT day, messages, conversations FROM retained_counts")
    assert (retained["messages"], retained["conversations"]) == (1, 1)
    assert str(retained["day"]) == str(old.date())
    if desk.backend == "sqlite":
        raw = database_bytes(tmp_path)
        assert WORDS.encode() not in raw and OTHER.encode() in raw


async def execute(desk: DeskSystem, sql: str, **params: object) -> None:
    async with desk.runtime.db.begin() as connection:
        await connection.execute(text(sql), params)


async def _empty(desk: DeskSystem, channel: str) -> bool:
    return not any((await counts(desk, channel)).values())


async def test_csbot_forget_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    async with desk_system(tmp_path) as desk:
        await desk.sms(f"Can I talk to a human please? {WORDS}")
        await desk.settle()
        [handoff] = await desk.handoffs()
        for name, value in {"DATABASE_URL": desk.runtime.settings.database_url, "CSBOT_BOT": str(TEST_BOT),
                            "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SLACK_SECRET,
                            "SLACK_AGENT_CHANNEL": AGENT_CHANNEL, "SLACK_API_URL": desk.slack.api_url}.items():
            monkeypatch.setenv(name, value)

        assert await asyncio.to_thread(main, ["forget", "--channel", "sms", "--customer", SMS_CUSTOMER]) == 0
        assert f"Forgot sms customer '{SMS_CUSTOMER}'" in capsys.readouterr().out
        assert FORGOTTEN_NOTE in desk.thread(handoff["desk_thread_ts"])
        assert await counts(desk, "sms") == {"conversations": 0, "messages": 0, "outbox": 0, "handoffs": 0}
        assert WORDS.encode() not in database_bytes(tmp_path)

        assert await asyncio.to_thread(main, ["forget", "--channel", "sms", "--customer", SMS_CUSTOMER]) == 1  # nothing left: say so
        assert "Nothing is stored for sms customer" in capsys.readouterr().out


def test_counts_are_per_day_and_add_to_the_stats() -> None:
    monday, tuesday = datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 3, 9, tzinfo=UTC)
    days = count_days(messages=[(1, monday), (1, tuesday), (2, tuesday)], handoffs=[(2, tuesday), (2, tuesday)],
                      feedback=[("rating", 5, tuesday), ("rating", 2, tuesday), ("thumbs", 1, monday), ("thumbs", -1, monday)])
    assert days == [
        DayCounts(date(2026, 3, 2), messages=1, conversations=1, votes=2, thumbs_up=1),
        DayCounts(date(2026, 3, 3), messages=2, conversations=1, handed_over=1, ratings=2, rating_sum=7, satisfied=1),
    ]
    live = Stats(days=7, messages=3, conversations=1, handed_over=0, median_first_reply_seconds=1.0, ratings=1,
                 rating_average=4.0, satisfied=1)
    total = with_retained(live, days)
    assert (total.messages, total.conversations, total.handed_over, total.ratings) == (6, 3, 1, 3)
    assert total.rating_average == pytest.approx(11 / 3) and total.satisfied == 2
    assert (total.votes, total.thumbs_up) == (2, 1)
