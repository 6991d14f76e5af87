"""Customer button clicks on Slack (`block_actions` posted to the interactions URL).

A Slack app has one interactions URL, shared by the customers' buttons and the agent desk's.
The customers' two kinds are read here: a 👍/👎 vote on an answer becomes a `VotePress`, and a
choice button becomes a message carrying the button's value, as if typed. Any other click (the
desk's Claim, Resolve, ...) is not a customer's and is left to the desk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from channels.slack.payload import interaction_payload
from channels.slack.spec import NAME
from core.errors import BadInput
from core.sanitize import clean_text
from core.feedback import VotePress, parse_button_payload
from core.messages import InboundMessage

CHOICE_ACTION_PREFIX = "csbot_reply:"
VOTE_ACTION_PREFIX = "csbot_vote:"


@dataclass(frozen=True, slots=True)
class Click:
    """Where a button was clicked, and by whom."""

    user: str
    channel: str
    message_ts: str
    thread_ts: str
    trigger_id: str

    @property
    def in_dm(self) -> bool:
        return self.channel.startswith("D")

    @property
    def conversation_key(self) -> str:
        """The same key intake gave the conversation (see `channels.slack.conversation_of`)."""
        return self.channel if self.in_dm else f"{self.channel}:{self.thread_ts or self.message_ts}"


def read_form(body: bytes) -> dict[str, str]:
    """The form Slack posts to interaction and slash-command URLs, values cleaned of what cannot
    be stored; `BadInput` when it is not UTF-8."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise BadInput("Slack form body is not UTF-8") from exc
    return {clean_text(key): clean_text(value) for key, value in pairs}


def read_payload(body: bytes) -> dict[str, Any]:
    """The JSON `payload` field of an interaction form, checked against its model; `BadInput`
    when it is not one."""
    return interaction_payload(read_form(body).get("payload", ""))


def _click(payload: Mapping[str, Any]) -> Click | None:
    user = (payload.get("user") or {}).get("id", "")
    channel = (payload.get("channel") or {}).get("id", "")
    message = payload.get("message") or {}
    if not (user and channel and message.get("ts")):
        return None
    return Click(str(user), str(channel), str(message["ts"]), str(message.get("thread_ts") or ""),
                 str(payload.get("trigger_id") or ""))


def _actions(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if payload.get("type") != "block_actions":
        return []
    return [a for a in payload.get("actions") or () if isinstance(a, dict)]


def customer_click(payload: Mapping[str, Any]) -> VotePress | InboundMessage | None:
    """The customer's vote or choice in this payload; None when it holds neither."""
    click = _click(payload)
    if click is None:
        return None
    for action in _actions(payload):
        action_id, value = str(action.get("action_id", "")), str(action.get("value", ""))
        if action_id.startswith(VOTE_ACTION_PREFIX) and (parsed := parse_button_payload(value)) is not None:
            return VotePress(NAME, click.conversation_key, *parsed)
        if action_id.startswith(CHOICE_ACTION_PREFIX) and value:
            return _choice(click, value, str(action.get("action_ts", "")))
    return None


def _choice(click: Click, value: str, action_ts: str) -> InboundMessage:
    """A choice as a message; the trigger id (unique per click) is its dedupe key."""
    thread_ts = click.thread_ts if click.in_dm else click.thread_ts or click.message_ts
    return InboundMessage(
        channel=NAME,
        platform_message_id=f"click:{click.trigger_id or action_ts}",
        conversation_key=click.conversation_key,
        sender_id=click.user,
        text=value,
        metadata={"channel": click.channel, "thread_ts": thread_ts, "button": "1"},
    )
