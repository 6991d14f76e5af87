"""Normalized message values shared by every channel.

Every platform adapter turns its webhook payload into an `InboundMessage`, and every reply
leaves as an `OutboundMessage`; the engine never sees a platform's own shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ContentKind(StrEnum):
    """What the customer sent; the engine answers text and politely declines the rest."""

    TEXT = "text"
    MEDIA = "media"  # photo, sticker, voice, MMS without text


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the customer; channels without buttons degrade it to "reply 1/2"."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One customer message as it arrived, before it is stored.

    `channel` + `platform_message_id` is the dedupe key: platforms re-deliver, we answer once.
    `conversation_key` identifies the conversation within the channel (a chat id, a Slack
    channel+thread, a phone number) and is where replies go.
    """

    channel: str
    platform_message_id: str
    conversation_key: str
    sender_id: str
    text: str
    kind: ContentKind = ContentKind.TEXT
    sender_name: str = ""
    metadata: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One reply, ready for a channel adapter to shape and send.

    `idempotency_key` is unique per reply in the outbox; a re-run of the same turn finds the
    existing row instead of writing a second reply.
    """

    id: int
    channel: str
    conversation_key: str
    text: str
    idempotency_key: str
    language: str = "en"
    buttons: tuple[Button, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # Ask the customer to rate this answer, in the channel's own way (see core.feedback); a
    # channel without buttons ends the answer with `feedback_prompt`.
    ask_feedback: bool = False
    feedback_prompt: str = ""


@dataclass(frozen=True, slots=True)
class Delivered:
    """What a channel reports after a successful send (the platform's own id for the message)."""

    platform_message_id: str
