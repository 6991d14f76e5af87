"""Events API `event_callback`s read into what decides their fate: customer, agent desk, or nothing.

Each Slack message is taken from exactly one event type: in a DM the `message` event
(`channel_type` "im"), in a channel the `app_mention` event. Slack sends both types for a mention
in a DM, and a `message` event for every channel message when the app also has channel history
scopes; taking one per context means the same message never becomes two turns. Slack re-sends an
event it thinks failed with the same `event_id`; that id is the `platform_message_id`, so intake
stores it once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from channels.slack.format import plain_text
from channels.slack.payload import event_envelope
from channels.slack.spec import NAME
from core.messages import ContentKind, InboundMessage

# Message subtypes that are still a person writing: a file with or without a caption, and a
# thread reply also sent to the channel. Every other subtype (edits, deletions, joins, topic
# changes, bot messages) is Slack describing something, not a customer asking.
CUSTOMER_SUBTYPES = frozenset({"", "file_share", "thread_broadcast"})


@dataclass(frozen=True, slots=True)
class SlackEvent:
    """The fields of one Events API `event_callback` that decide what to do with it."""

    event_id: str
    type: str
    subtype: str
    channel: str
    channel_type: str
    user: str
    bot_id: str
    text: str
    ts: str
    thread_ts: str
    team: str
    has_files: bool
    hidden: bool
    bot_user_ids: frozenset[str]  # the bot this event was delivered to

    @property
    def in_dm(self) -> bool:
        return self.channel_type == "im" or self.channel.startswith("D")


class EventRoute(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"  # the agents' desk channel: handed to the desk's hook (channels.slack.desk)
    IGNORE = "ignore"


AgentEventHook = Callable[[SlackEvent], Awaitable[None]]



def read_envelope(body: bytes) -> dict[str, Any]:
    """The Events API body as a dict whose fields have the types the handlers read."""
    return event_envelope(body)


def bot_user_ids(envelope: Mapping[str, Any], configured: str | None) -> frozenset[str]:
    """The bot's own user id(s): from the installation's `authorizations`, plus any configured."""
    ids = {configured} if configured else set()
    for auth in envelope.get("authorizations") or ():
        if isinstance(auth, dict) and auth.get("is_bot") and isinstance(auth.get("user_id"), str):
            ids.add(auth["user_id"])
    return frozenset(ids)


def parse_event(envelope: Mapping[str, Any], configured_bot: str | None) -> SlackEvent | None:
    """The `event_callback`'s event, or None when there is none worth reading."""
    event = envelope.get("event")
    event_id = envelope.get("event_id")
    if not isinstance(event, dict) or not isinstance(event_id, str) or not event_id:
        return None

    def text_field(name: str) -> str:
        value = event.get(name)
        return value if isinstance(value, str) else ""

    return SlackEvent(
        event_id=event_id,
        type=text_field("type"),
        subtype=text_field("subtype"),
        channel=text_field("channel"),
        channel_type=text_field("channel_type"),
        user=text_field("user"),
        bot_id=text_field("bot_id"),
        text=text_field("text"),
        ts=text_field("ts"),
        thread_ts=text_field("thread_ts"),
        team=text_field("team") or str(envelope.get("team_id") or ""),
        has_files=bool(event.get("files")),
        hidden=bool(event.get("hidden")),
        bot_user_ids=bot_user_ids(envelope, configured_bot),
    )


def classify(event: SlackEvent, agent_channel: str | None) -> tuple[EventRoute, str]:
    """Where an event goes, with the reason (for the debug log) when it goes nowhere."""
    if event.type not in ("message", "app_mention"):
        return EventRoute.IGNORE, f"event type {event.type!r}"
    if event.bot_id or event.subtype == "bot_message" or event.user in event.bot_user_ids:
        return EventRoute.IGNORE, "written by a bot"  # our own posts included, in every channel
    if event.hidden or event.subtype not in CUSTOMER_SUBTYPES:
        return EventRoute.IGNORE, f"subtype {event.subtype!r}"
    if agent_channel and event.channel == agent_channel:
        # Agents reply in threads without mentioning the bot, so the desk reads `message`
        # events; a mention there arrives as both types and is taken once, as a message.
        if event.type == "app_mention":
            return EventRoute.IGNORE, "mention in the agent channel; its message event carries it"
        return EventRoute.AGENT, "agent channel"
    if not event.channel or not event.ts or not event.user:
        return EventRoute.IGNORE, "no channel, ts or user"
    if event.type == "message" and not event.in_dm:
        return EventRoute.IGNORE, "channel message; mentions arrive as app_mention"
    if event.type == "app_mention" and event.in_dm:
        return EventRoute.IGNORE, "mention in a DM; the DM's message event carries it"
    return EventRoute.CUSTOMER, ""


def conversation_of(event: SlackEvent) -> tuple[str, str]:
    """(conversation_key, thread_ts to reply in).

    A DM is one conversation; the reply goes where the customer wrote (top level, or the DM
    thread they used). In a channel each thread is its own conversation and replies go into it:
    the thread the mention was in, or a new one under the mentioning message.
    """
    if event.in_dm:
        return event.channel, event.thread_ts
    root = event.thread_ts or event.ts
    return f"{event.channel}:{root}", root


def to_inbound(event: SlackEvent) -> InboundMessage | None:
    """The normalized customer message; None when there is nothing to answer (a bare mention)."""
    text = plain_text(event.text, event.bot_user_ids)
    if not text and not event.has_files:
        return None
    key, thread_ts = conversation_of(event)
    return InboundMessage(
        channel=NAME,
        platform_message_id=event.event_id,
        conversation_key=key,
        sender_id=event.user,
        text=text,
        kind=ContentKind.TEXT if text else ContentKind.MEDIA,
        metadata={"channel": event.channel, "thread_ts": thread_ts, "ts": event.ts, "team": event.team, "user": event.user},
    )
