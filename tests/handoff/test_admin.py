"""`/csbot` admin commands: signed slash-command requests in, ephemeral answers (at once, or via
the response_url for slow commands), the allow-list, the audit log, and what each one changes."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from tests.handoff.support import ADMIN, AGENT, AGENT_CHANNEL, DeskSystem, eventually, slack_signature

OUTSIDER = "UNOTADMIN"


async def run(desk: DeskSystem, text: str, *, user: str = ADMIN, **extra: str) -> str:
    """The answer a user sees (see `DeskSystem.admin`)."""
    return await desk.admin(text, user=user, **extra)


async def escalate(desk: DeskSystem, text: str = "Can I talk to a human please?") -> int:
    await desk.telegram_message(text)
    await desk.settle()
    return await desk.conversation_id("telegram")


async def audit(desk: DeskSystem) -> list[dict]:
    return await desk.rows("SELECT user_id, command, allowed, outcome FROM admin_audit ORDER BY id")


# --- happy paths -------------------------------------------------------------------------------


async def test_help_lists_every_command(desk: DeskSystem) -> None:
    answer = await run(desk, "help")
    for usage in ("help", "status", "handoffs", "takeover <conversation>", "release <conversation>", "pause [channel]",
                  "resume [channel]", "kb search <query>", "kb add <question> || <answer>", "stats [days]",
                  "resolve [conversation]"):
        assert f"`/csbot {usage}`" in answer
    assert await audit(desk) == [{"user_id": ADMIN, "command": "help", "allowed": True, "outcome": answer}]


async def test_status_reports_channels_queues_llm_handoffs_and_pause(desk: DeskSystem) -> None:
    await escalate(desk)
    answer = await run(desk, "status")
    assert "channels: telegram on, slack on, sms on" in answer
    assert "queues: in-process (no Redis)" in answer
    assert "LLM server: off (embedded extractive responder)" in answer
    assert "open handoffs: 1 (1 waiting, 0 claimed)" in answer
    assert "paused: no" in answer
    [row] = [r for r in await audit(desk) if r["command"] == "status"]
    assert row["outcome"] == answer  # the deferred result is audited too


async def test_handoffs_lists_waiting_and_claimed_with_age_and_owner(desk: DeskSystem) -> None:
    first = await escalate(desk)
    await desk.sms("agent please")
    await desk.settle()
    second = await desk.conversation_id("sms")
    [_, sms_handoff] = await desk.handoffs()
    await desk.click("claim", sms_handoff["id"], user=AGENT)
    answer = await run(desk, "handoffs")
    assert "2 open handoff(s)" in answer
    assert f"conversation {first}: waiting, 0 min, owner nobody yet" in answer
    assert f"conversation {second}: claimed, 0 min, owner <@{AGENT}>" in answer


async def test_no_open_handoffs_says_so(desk: DeskSystem) -> None:
    assert "No open handoffs" in await run(desk, "handoffs")


async def test_takeover_takes_a_conversation_from_the_bot_and_release_gives_it_back(desk: DeskSystem) -> None:
    await desk.telegram_message("I lost my card")
    await desk.settle()
    conversation = await desk.conversation_id("telegram")

    answer = await run(desk, f"takeover {conversation}")
    assert f"You own conversation {conversation} now" in answer
    [handoff] = await desk.handoffs()
    assert handoff["state"] == "claimed" and handoff["agent_id"] == ADMIN and handoff["rule"] == "admin_takeover"
    await desk.telegram_message("are you there?")
    await desk.settle()
    assert len(desk.received("telegram")) == 1  # the bot stays silent
    card = await eventually(lambda: desk.cards())
    assert desk.thread(card[0].ts) == ["*Customer:* are you there?"]

    answer = await run(desk, f"release {conversation}")
    assert f"Conversation {conversation} is back with the bot" in answer
    [conv] = await desk.rows("SELECT mode FROM conversations")
    assert conv["mode"] == "bot"
    await desk.settle()
    assert await desk.scalar("SELECT count(*) FROM outbox WHERE idempotency_key LIKE 'rating:%'") == 0  # no rating on release
    await desk.telegram_message("when are you open?")
    await desk.settle()
    assert "Monday to Friday" in desk.received("telegram")[-1]


async def test_pause_sends_every_new_message_to_people_and_resume_lets_the_bot_answer(desk: DeskSystem) -> None:
    assert "Paused on every channel" in await run(desk, "pause")
    await desk.telegram_message("when are you open?")
    await desk.settle()
    [handoff] = await desk.handoffs()
    assert handoff["rule"] == "paused"
    assert (await desk.rows("SELECT value FROM bot_state WHERE key = 'paused'"))[0]["value"]["all"] is True

    assert "Resumed everywhere" in await run(desk, "resume")
    await desk.sms("when are you open?")
    await desk.settle()
    assert "Monday to Friday" in desk.received("sms")[0]


async def test_pause_one_channel_leaves_the_others_to_the_bot(desk: DeskSystem) -> None:
    assert "Paused on sms" in await run(desk, "pause sms")
    await desk.sms("when are you open?")
    await desk.telegram_message("when are you open?")
    await desk.settle()
    [handoff] = await desk.handoffs()
    assert handoff["conversation_id"] == await desk.conversation_id("sms")
    assert "Monday to Friday" in desk.received("telegram")[0]
    assert "paused: on sms" in await run(desk, "status")
    assert "Resumed on sms" in await run(desk, "resume sms")


async def test_kb_search_shows_top_passages_with_scores(desk: DeskSystem) -> None:
    answer = await run(desk, "kb search my account was hacked")
    first = answer.splitlines()[1]
    assert "Account hacked or stolen (account-hacked, en)" in first
    score = float(first.split()[1])
    assert 0 < score <= 1


async def test_kb_add_is_searchable_at_once_and_answers_customers(desk: DeskSystem) -> None:
    answer = await run(desk, "kb add Do you offer student accounts? || Yes: the Acme Student account has no monthly fee until you turn 26.")
    assert "Added knowledge document" in answer and "searchable now" in answer
    [doc] = await desk.rows("SELECT bot, slug, title, body, source FROM knowledge_documents")
    assert doc["title"] == "Do you offer student accounts?" and doc["source"] == "admin" and doc["slug"].startswith("kb-")
    assert "Do you offer student accounts?" in (await run(desk, "kb search student account")).splitlines()[1]
    await desk.telegram_message("do you have a student account?")
    await desk.settle()
    assert "no monthly fee until you turn 26" in desk.received("telegram")[0]


async def test_stats_reports_volumes_rates_first_reply_and_csat(desk: DeskSystem) -> None:
    await desk.sms("when are you open?")  # answered by the bot alone
    await desk.settle()
    await escalate(desk)
    [handoff] = await desk.handoffs()
    await desk.click("resolve", handoff["id"], user=AGENT)
    await desk.settle()
    await desk.telegram_message("4")
    await desk.settle()

    answer = await run(desk, "stats 7")
    assert "Last 7 day(s):" in answer
    assert "• messages: 3" in answer
    assert "• conversations: 2" in answer
    assert "• automation rate: 50% (answered without a person)" in answer
    assert "• handoff rate: 50% (1 handed over)" in answer
    assert "• median first reply: " in answer and "n/a" not in answer.split("median first reply: ")[1].split("\n")[0]
    assert "• CSAT: 100% of 1 rating(s) were 4–5; average 4.00/5" in answer


async def test_resolve_by_conversation_id_hands_back_and_asks_for_a_rating(desk: DeskSystem) -> None:
    conversation = await escalate(desk)
    answer = await run(desk, f"resolve {conversation}")
    assert f"Conversation {conversation} is back with the bot" in answer
    await desk.settle()
    assert desk.received("telegram")[-1].startswith("Our colleague has finished helping you")


async def test_resolve_inside_a_thread_uses_the_thread(desk: DeskSystem) -> None:
    await escalate(desk)
    [handoff] = await desk.handoffs()
    answer = await run(desk, "resolve", thread_ts=handoff["desk_thread_ts"])
    assert "is back with the bot" in answer
    [row] = await desk.handoffs()
    assert row["state"] == "resolved"


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    ["help", "status", "handoffs", "takeover 1", "release 1", "pause", "resume", "kb search card", "kb add q || a",
     "stats", "resolve 1"],
)
async def test_non_admins_are_refused_and_nothing_changes(desk: DeskSystem, command: str) -> None:
    conversation = await escalate(desk)
    response = await desk.command(command.replace(" 1", f" {conversation}"), user=OUTSIDER)
    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral",
                               "text": "Sorry, only csbot admins can run /csbot commands. Nothing was changed."}
    await desk.settle()
    [handoff] = await desk.handoffs()
    assert handoff["state"] == "waiting" and handoff["agent_id"] == ""
    assert await desk.scalar("SELECT count(*) FROM knowledge_documents") == 0
    assert await desk.scalar("SELECT count(*) FROM bot_state") == 0
    assert desk.response_url.posts == []
    [row] = await audit(desk)
    assert row["user_id"] == OUTSIDER and not row["allowed"] and row["outcome"] == "refused: not an admin"
    expected = " ".join(command.split()[:2]) if command.startswith("kb") else command.split()[0]
    assert row["command"] == expected


async def test_unsigned_or_forged_commands_get_401_and_change_nothing(desk: DeskSystem) -> None:
    unsigned = await desk.command("pause", sign=False)
    forged = await desk.command("pause", secret="not-the-signing-secret")
    assert unsigned.status_code == 401 and forged.status_code == 401
    assert await desk.scalar("SELECT count(*) FROM bot_state") == 0
    assert await desk.scalar("SELECT count(*) FROM admin_audit") == 0


# --- usage errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ("status now", "Usage: /csbot status"),
        ("handoffs all", "Usage: /csbot handoffs"),
        ("takeover", "Usage: /csbot takeover <conversation>"),
        ("takeover abc", "Usage: /csbot takeover <conversation>"),
        ("release", "Usage: /csbot release <conversation>"),
        ("pause sms telegram", "Usage: /csbot pause [channel]"),
        ("pause carrier-pigeon", "Usage: /csbot pause [channel]"),
        ("resume a b", "Usage: /csbot resume [channel]"),
        ("kb search", "Usage: /csbot kb search <query>"),
        ("kb add a question without an answer", "Usage: /csbot kb add <question> || <answer>"),
        ("stats zero", "Usage: /csbot stats [days]"),
        ("stats 0", "Usage: /csbot stats [days]"),
        ("resolve", "Usage: /csbot resolve [conversation]"),
    ],
)
async def test_bad_arguments_get_the_usage_line_and_change_nothing(desk: DeskSystem, command: str, usage: str) -> None:
    assert usage in await run(desk, command)
    assert await desk.scalar("SELECT count(*) FROM bot_state") == 0
    assert await desk.scalar("SELECT count(*) FROM knowledge_documents") == 0
    assert await desk.scalar("SELECT count(*) FROM handoffs") == 0


@pytest.mark.parametrize("command", ["frobnicate", "kb", "kb delete 3", ""])
async def test_unknown_commands_get_the_usage_list(desk: DeskSystem, command: str) -> None:
    answer = await run(desk, command)
    assert "Usage:" in answer and "`/csbot kb search <query>`" in answer


async def test_takeover_of_a_conversation_that_does_not_exist_says_so(desk: DeskSystem) -> None:
    assert "Conversation 999 does not exist" in await run(desk, "takeover 999")
    assert await desk.handoffs() == []


async def test_commands_are_answered_in_the_agent_channel_context(desk: DeskSystem) -> None:
    """The audit keeps where a deferred command came from (its channel), and forgets the
    response_url once used."""
    await run(desk, "status")
    [row] = await desk.rows("SELECT channel_id, response_url, finished_at FROM admin_audit")
    assert row["channel_id"] == AGENT_CHANNEL and row["response_url"] == "" and row["finished_at"] is not None


async def test_status_with_redis_reports_queue_depths(tmp_path, request) -> None:
    from tests.conftest import require_services
    from tests.handoff.support import desk_system

    require_services()
    async with desk_system(tmp_path, backend="postgres", request=request) as desk:
        answer = await run(desk, "status")
        assert re.search(r"queues: inbound \d+, outbound \d+", answer)
        assert "open handoffs: 0 (0 waiting, 0 claimed)" in answer


# --- replays -------------------------------------------------------------------------------------


async def test_a_replayed_signed_kb_add_creates_one_document(desk: DeskSystem) -> None:
    """The same signed body twice (a replay inside Slack's five-minute window) runs once."""
    extra = {"trigger_id": "13579.24680.replayed"}
    first = await desk.command("kb add Do you offer student accounts? || Yes, with no monthly fee.", **extra)
    again = await desk.command("kb add Do you offer student accounts? || Yes, with no monthly fee.", **extra)
    await desk.settle()
    assert first.status_code == again.status_code == 200
    assert again.json()["text"] == "This request was already received and acted on once; nothing was repeated."
    assert len(await desk.rows("SELECT id FROM knowledge_documents")) == 1


async def test_a_replayed_body_without_trigger_id_is_deduped_on_its_signature(desk: DeskSystem) -> None:
    body = urlencode({"user_id": ADMIN, "command": "/csbot", "text": "pause", "channel_id": AGENT_CHANNEL}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **slack_signature(body)}
    first = await desk._post("/webhooks/slack/commands", body, headers)
    again = await desk._post("/webhooks/slack/commands", body, headers)
    assert "already received" not in first.json()["text"]
    assert "already received" in again.json()["text"]
    assert [r["command"] for r in await audit(desk)] == ["pause"]
