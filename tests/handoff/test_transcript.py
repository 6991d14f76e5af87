"""One full handoff as the platforms saw it, printed from the fake servers' recorded calls
(run with `-s` to read it): customer message → acknowledgement → card → claim → agent reply →
customer receives it → resolve → rating request → rating."""

from __future__ import annotations

import json

from tests.handoff.support import AGENT, AGENT_CHANNEL, TG_CHAT, DeskSystem


def transcript(desk: DeskSystem) -> list[str]:
    lines: list[tuple[float, str]] = []
    for call in desk.telegram.calls_to("sendMessage"):
        lines.append((call.at, f"telegram  sendMessage chat={call.params['chat_id']}: {call.params['text']!r}"))
    for call in desk.slack.calls:
        if call.method == "chat.postMessage" and call.accepted:
            where = f"thread={call.thread_ts}" if call.thread_ts else "top-level"
            text = call.text
            if call.blocks:
                actions = [e["action_id"] for b in call.blocks if b["type"] == "actions" for e in b["elements"]]
                text += f"\n          blocks={json.dumps(call.blocks, ensure_ascii=False)}\n          buttons={actions}"
            lines.append((call.at, f"slack     chat.postMessage channel={call.channel} {where} ts={call.ts}: {text}"))
        elif call.method == "chat.update" and call.accepted:
            context = [e["text"] for b in call.params["blocks"] if b["type"] == "context" for e in b["elements"]][0]
            lines.append((call.at, f"slack     chat.update ts={call.params['ts']}: {call.text} | {context}"))
    for message in desk.twilio.calls:
        lines.append((message.at, f"twilio    Messages.json To={message.params.get('To')}: {message.params.get('Body')!r}"))
    return [line for _, line in sorted(lines, key=lambda pair: pair[0])]


async def test_one_full_handoff_as_the_platforms_saw_it(desk: DeskSystem) -> None:
    steps: list[str] = []
    await desk.telegram_message("My account was hacked! I need a real person.")
    await desk.settle()
    [handoff] = await desk.handoffs()
    steps.append(f"customer → bot (telegram): 'My account was hacked! I need a real person.'  [handoff {handoff['id']}]")
    await desk.click("claim", handoff["id"], user=AGENT)
    await desk.settle()
    steps.append(f"agent {AGENT} clicks Claim")
    await desk.agent_reply(handoff["desk_thread_ts"], "Hi Ana, Sam here. I have frozen your account; a new password link is on its way.")
    await desk.settle()
    steps.append("agent replies in the card's thread")
    await desk.click("resolve", handoff["id"], user=AGENT)
    await desk.settle()
    steps.append(f"agent {AGENT} clicks Resolve")
    await desk.telegram_message("5")
    await desk.settle()
    steps.append("customer → bot (telegram): '5'")

    lines = transcript(desk)
    print("\n--- steps ---\n" + "\n".join(steps) + "\n--- what the fake platform servers received ---\n" + "\n".join(lines))

    to_customer = [str(p["text"]) for p in desk.telegram.sent(TG_CHAT)]
    assert to_customer[0].startswith("Freeze your account in the app under Security")  # safety answer first
    assert "You can expect a reply within about 5 minutes" in to_customer[0]
    assert to_customer[1] == "Hi Ana, Sam here. I have frozen your account; a new password link is on its way."
    assert to_customer[2].startswith("Our colleague has finished helping you and I'm back.")
    assert to_customer[3] == "Thank you for your feedback!"
    cards = desk.cards()
    assert len(cards) == 1 and cards[0].channel == AGENT_CHANNEL
    assert [c.text.rsplit("[", 1)[1] for c in desk.updates(handoff["desk_thread_ts"])] == ["claimed]", "resolved]"]
