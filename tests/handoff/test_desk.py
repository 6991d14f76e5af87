"""The agents' desk on Slack: the card, claiming, relaying both ways, resolving, rating, the SLA.

Customers write through the real Telegram / Twilio / Slack webhooks; agents click and reply
through signed Slack requests; what reaches each side is read from the fake platform servers.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.handoff import HandoffState
from core.records import Role
from tests.handoff.conftest import BOTH_BACKENDS
from tests.handoff.support import AGENT, AGENT_CHANNEL, ONCALL, OTHER_AGENT, DeskSystem, eventually

ASK_FOR_PERSON = "Can I talk to a human please?"
RATING_EN = "Our colleague has finished helping you and I'm back."


async def escalate(desk: DeskSystem, channel: str = "telegram", text: str = ASK_FOR_PERSON) -> dict:
    await desk.send(channel, text)
    await desk.settle()
    [handoff] = [h for h in await desk.handoffs() if h["state"] != "resolved"]
    await eventually(lambda: handoff["id"] and desk.cards())
    return (await desk.rows("SELECT * FROM handoffs WHERE id = :id", id=handoff["id"]))[0]


def card_for(desk: DeskSystem, handoff: dict):
    [card] = [c for c in desk.cards() if c.ts == handoff["desk_thread_ts"]]
    return card


def block_texts(blocks: list[dict]) -> str:
    parts = []
    for block in blocks:
        if "text" in block and isinstance(block["text"], dict):
            parts.append(block["text"]["text"])
        for item in block.get("fields", []) + block.get("elements", []):
            if isinstance(item.get("text"), dict):
                parts.append(item["text"]["text"])
            elif isinstance(item.get("text"), str):
                parts.append(item["text"])
    return "\n".join(parts)


# --- the card ----------------------------------------------------------------------------------


async def test_the_card_says_who_why_what_and_offers_the_three_buttons(desk: DeskSystem) -> None:
    await desk.sms("I lost my card")
    await desk.settle()
    handoff = await escalate(desk, "sms", "I want a real person, this is useless and terrible")

    card = card_for(desk, handoff)
    assert card.channel == AGENT_CHANNEL and card.thread_ts is None
    shown = block_texts(card.blocks)
    assert "+1•••••0199" in shown and "+15550100199" not in shown and "+15550100199" not in card.text  # masked
    assert "sms" in shown
    assert "customer asked for a person" in shown and "trigger_phrase" in shown  # why
    assert "Summary" in shown and "2 recent customer message(s) on sms" in shown
    assert "Started with: “I lost my card”" in shown
    assert "*Customer:* I lost my card" in shown and "*Bot:* Here is what our help centre says:" in shown  # last messages
    assert "Suggested reply" in shown and "Freeze your card" in shown
    [actions] = [b for b in card.blocks if b["type"] == "actions"]
    assert [(e["action_id"], e["value"], e["text"]["text"]) for e in actions["elements"]] == [
        ("csbot_handoff:claim", str(handoff["id"]), "Claim"),
        ("csbot_handoff:send_suggested", str(handoff["id"]), "Send suggested reply"),
        ("csbot_handoff:resolve", str(handoff["id"]), "Resolve"),
    ]
    assert handoff["desk_thread_ts"] == card.ts


async def test_the_card_is_posted_once_however_often_the_desk_job_runs(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    service = desk.runtime.services.desk
    await asyncio.gather(*(service.sync(handoff["id"]) for _ in range(5)))
    await desk.settle()
    assert len(desk.cards()) == 1
    assert desk.updates(handoff["desk_thread_ts"]) == []  # nothing changed, nothing to update


async def test_card_and_thread_never_show_a_card_number(desk: DeskSystem) -> None:
    handoff = await escalate(desk, "telegram", "agent please, my card 4111 1111 1111 1111 was charged twice")
    await desk.telegram_message("the number again: 4111111111111111")
    await desk.settle()
    shown = block_texts(card_for(desk, handoff).blocks) + "\n".join(desk.thread(handoff["desk_thread_ts"]))
    assert "4111" not in shown and "[CARD]" in shown
    [first] = await desk.rows("SELECT understanding FROM messages ORDER BY id LIMIT 1")
    # Masked before it was stored: the last four are all the turn knew, and the kind is all it kept.
    assert first["understanding"]["entities"] == ["card_last4"]


# --- claiming ----------------------------------------------------------------------------------


@BOTH_BACKENDS
async def test_two_agents_claiming_at_once_yield_exactly_one_owner(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    responses = await asyncio.gather(desk.click("claim", handoff["id"], user=AGENT),
                                     desk.click("claim", handoff["id"], user=OTHER_AGENT))
    assert [r.status_code for r in responses] == [200, 200]
    await desk.settle()

    [row] = await desk.handoffs()
    assert row["state"] == "claimed" and row["agent_id"] in (AGENT, OTHER_AGENT)
    claims = await desk.rows("SELECT actor FROM handoff_events WHERE target = 'claimed'")
    assert claims == [{"actor": row["agent_id"]}]
    [conversation] = await desk.rows("SELECT mode FROM conversations")
    assert conversation["mode"] == "claimed"
    update = await eventually(lambda: desk.updates(handoff["desk_thread_ts"]))
    assert f"Claimed by <@{row['agent_id']}>" in block_texts(update[-1].params["blocks"])
    assert "csbot_handoff:claim" not in str(update[-1].params["blocks"])  # no Claim button any more


@BOTH_BACKENDS
async def test_many_concurrent_compare_and_sets_have_one_winner(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    store = desk.runtime.services.desk.handoffs
    results = await asyncio.gather(*(
        store.transition(handoff["id"], source=HandoffState.WAITING, target=HandoffState.CLAIMED, actor=f"U{i}")
        for i in range(8)
    ))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].state is HandoffState.CLAIMED
    assert len(await desk.rows("SELECT id FROM handoff_events WHERE target = 'claimed'")) == 1


# --- while a person owns the conversation ---------------------------------------------------------


@BOTH_BACKENDS
async def test_the_bot_is_silent_while_claimed_and_customer_messages_reach_the_thread(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    await desk.click("claim", handoff["id"])
    await desk.settle()
    for text in ("I lost my card", "when are you open?", "hello?"):
        await desk.telegram_message(text)
    await desk.settle()

    assert len(desk.received("telegram")) == 1  # just the acknowledgement
    statuses = [r["status"] for r in await desk.rows("SELECT status FROM messages ORDER BY id")]
    assert statuses == ["answered", "relayed", "relayed", "relayed"]
    thread = await eventually(lambda: len(desk.thread(handoff["desk_thread_ts"])) >= 3 and desk.thread(handoff["desk_thread_ts"]))
    assert thread == ["*Customer:* I lost my card", "*Customer:* when are you open?", "*Customer:* hello?"]
    assert await desk.scalar("SELECT count(*) FROM outbox") == 1


async def test_messages_while_waiting_are_relayed_too_and_none_is_lost(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    await asyncio.gather(*(desk.telegram_message(f"message {i}") for i in range(5)))
    await desk.settle()
    arrived = [r["text"] for r in await desk.rows("SELECT text FROM messages WHERE status = 'relayed' ORDER BY id")]
    assert sorted(arrived) == [f"message {i}" for i in range(5)]
    assert desk.thread(handoff["desk_thread_ts"]) == [f"*Customer:* {t}" for t in arrived]  # in arrival order
    assert len(desk.received("telegram")) == 1


@BOTH_BACKENDS
@pytest.mark.parametrize("customer_channel", ["telegram", "sms"])
async def test_an_agent_thread_reply_reaches_the_customer_on_their_channel_exactly_once(
    desk: DeskSystem, customer_channel: str
) -> None:
    handoff = await escalate(desk, customer_channel)
    event_id = "EvAGENTREPLY1"
    await desk.agent_reply(handoff["desk_thread_ts"], "Hi, this is Sam from Acme. I have frozen your card.", event_id=event_id)
    await desk.agent_reply(handoff["desk_thread_ts"], "Hi, this is Sam from Acme. I have frozen your card.", event_id=event_id,
                           retry=True)  # Slack's re-delivery of the same event
    await desk.settle()

    received = desk.received(customer_channel)
    assert received[1:] == ["Hi, this is Sam from Acme. I have frozen your card."]
    [row] = await desk.rows("SELECT role, status, metadata FROM outbox WHERE role = 'agent'")
    assert row["status"] == "sent" and row["metadata"]["agent_id"] == AGENT
    [current] = await desk.handoffs()
    assert current["state"] == "claimed" and current["agent_id"] == AGENT  # the first to answer owns it


async def test_an_agent_reply_reaches_a_slack_customer_in_their_dm(desk: DeskSystem) -> None:
    handoff = await escalate(desk, "slack")
    await desk.agent_reply(handoff["desk_thread_ts"], "Hello from a person")
    await desk.settle()
    assert desk.received("slack")[-1] == "Hello from a person"


async def test_note_replies_stay_internal(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    await desk.agent_reply(handoff["desk_thread_ts"], "note: customer sounds stressed, check the fraud queue")
    await desk.agent_reply(handoff["desk_thread_ts"], "NOTE: second internal remark")
    await desk.settle()
    assert len(desk.received("telegram")) == 1
    assert await desk.scalar("SELECT count(*) FROM outbox WHERE role = 'agent'") == 0
    [current] = await desk.handoffs()
    assert current["state"] == "waiting"  # a note does not claim


async def test_another_agent_cannot_speak_for_the_owner(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    await desk.click("claim", handoff["id"], user=AGENT)
    await desk.agent_reply(handoff["desk_thread_ts"], "let me jump in", user=OTHER_AGENT)
    await desk.settle()
    assert len(desk.received("telegram")) == 1


async def test_send_suggested_reply_claims_and_sends_the_bots_suggestion_once(desk: DeskSystem) -> None:
    handoff = await escalate(desk, "telegram", "agent! I lost my card")
    await desk.click("send_suggested", handoff["id"])
    await desk.click("send_suggested", handoff["id"])
    await desk.settle()
    received = desk.received("telegram")
    assert len(received) == 2 and "Freeze your card" in received[1]
    assert received[1] == handoff["suggested_reply"]
    [current] = await desk.handoffs()
    assert current["state"] == "claimed" and current["agent_id"] == AGENT


# --- handing back ---------------------------------------------------------------------------------


@BOTH_BACKENDS
async def test_resolve_hands_back_asks_for_a_rating_and_stores_it(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    await desk.click("claim", handoff["id"])
    await desk.agent_reply(handoff["desk_thread_ts"], "Your card is frozen now.")
    await desk.settle()
    await desk.click("resolve", handoff["id"])
    await desk.settle()

    received = desk.received("telegram")
    assert received[-1].startswith(RATING_EN)
    [row] = await desk.handoffs()
    assert row["state"] == "resolved" and row["resolved_at"] is not None
    [conversation] = await desk.rows("SELECT id, mode FROM conversations")
    assert conversation["mode"] == "bot"
    update = await eventually(lambda: [u for u in desk.updates(handoff["desk_thread_ts"]) if "Resolved" in u.text or
                                       "Resolved" in block_texts(u.params["blocks"])])
    assert not [b for b in update[-1].params["blocks"] if b["type"] == "actions"]

    await desk.telegram_message("5")
    await desk.settle()
    [rating] = await desk.rows("SELECT kind, score, outbound_id FROM feedback")
    assert rating["kind"] == "rating" and rating["score"] == 5
    asked = await desk.scalar("SELECT id FROM outbox WHERE idempotency_key = :k", k=f"rating:{handoff['id']}")
    assert rating["outbound_id"] == asked
    assert desk.received("telegram")[-1] == "Thank you for your feedback!"

    await desk.telegram_message("when are you open?")  # the bot answers again
    await desk.settle()
    assert "Monday to Friday" in desk.received("telegram")[-1]
    history = await desk.runtime.store.history(conversation["id"], 10**9, 20)
    assert any(t.role is Role.AGENT and t.text == "Your card is frozen now." for t in history)
    events = [(e["source"], e["target"]) for e in await desk.rows("SELECT source, target FROM handoff_events ORDER BY id")]
    assert events == [("", "waiting"), ("waiting", "claimed"), ("claimed", "resolved")]


async def test_a_rating_is_only_read_right_after_the_question(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    await desk.click("resolve", handoff["id"])
    await desk.settle()
    await desk.telegram_message("I lost my card")
    await desk.telegram_message("4")
    await desk.settle()
    assert await desk.scalar("SELECT count(*) FROM feedback") == 0
    assert len([t for t in desk.received("telegram") if t == "Thank you for your feedback!"]) == 0


async def test_an_agent_reply_after_resolve_does_not_reach_the_customer(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    await desk.click("resolve", handoff["id"])
    await desk.settle()
    before = len(desk.received("telegram"))
    await desk.agent_reply(handoff["desk_thread_ts"], "one more thing")
    await desk.settle()
    assert len(desk.received("telegram")) == before


# --- the SLA --------------------------------------------------------------------------------------


async def test_an_unclaimed_handoff_past_its_sla_pages_on_call_once(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    service = desk.runtime.services.desk
    created = (await service.handoffs.get_handoff(handoff["id"])).created_at
    sla = desk.runtime.bot.definition.handoff.sla_seconds

    assert await service.check_sla(now=created + timedelta(seconds=sla - 5)) == 0
    assert desk.twilio.sent_to(ONCALL) == []
    later = created + timedelta(seconds=sla + 60)
    assert sum(await asyncio.gather(*(service.check_sla(now=later) for _ in range(4)))) == 1
    assert await service.check_sla(now=later + timedelta(hours=1)) == 0

    [page] = desk.twilio.sent_to(ONCALL)
    assert f"conversation {handoff['conversation_id']} (telegram) has waited 6 min" in page.body
    assert [t for t in desk.thread(handoff["desk_thread_ts"]) if "Still unclaimed" in t] != []
    assert len([t for t in desk.thread(handoff["desk_thread_ts"]) if "Still unclaimed" in t]) == 1
    [row] = await desk.handoffs()
    assert row["paged_at"] is not None


async def test_a_claimed_handoff_is_never_paged(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    await desk.click("claim", handoff["id"])
    await desk.settle()
    later = (await desk.runtime.services.desk.handoffs.get_handoff(handoff["id"])).created_at + timedelta(hours=2)
    assert await desk.runtime.services.desk.check_sla(now=later) == 0
    assert desk.twilio.sent_to(ONCALL) == []


async def test_a_failed_page_is_retried_on_the_next_check(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    desk.twilio.fail_next(1, status=503, code=0, message="unavailable")
    later = (await desk.runtime.services.desk.handoffs.get_handoff(handoff["id"])).created_at + timedelta(hours=1)
    assert await desk.runtime.services.desk.check_sla(now=later) == 0
    assert await desk.runtime.services.desk.check_sla(now=later) == 1
    assert len(desk.twilio.sent_to(ONCALL)) == 1


# --- signatures -------------------------------------------------------------------------------------


async def test_unsigned_or_forged_clicks_change_nothing(desk: DeskSystem) -> None:
    handoff = await escalate(desk)
    unsigned = await desk.click("claim", handoff["id"], sign=False)
    assert unsigned.status_code == 401
    [row] = await desk.handoffs()
    assert row["state"] == "waiting"


async def test_after_hand_back_the_llm_is_told_a_person_answered(tmp_path, fake_llm) -> None:
    from tests.handoff.support import desk_system

    async with desk_system(tmp_path, llm_base_url=fake_llm.url) as desk:
        handoff = await escalate(desk)
        await desk.agent_reply(handoff["desk_thread_ts"], "I have frozen your card, Ana.")
        await desk.settle()
        await desk.click("resolve", handoff["id"])
        await desk.settle()
        await desk.telegram_message("when are you open?")
        await desk.settle()
        history = [(m["role"], m["content"]) for m in fake_llm.requests[-1]["messages"][1:]]
        assert ("assistant", "(human agent) I have frozen your card, Ana.") in history
        assert history[-1] == ("user", "when are you open?")
