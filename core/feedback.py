"""Customer feedback on bot answers: a 👍 or 👎 per answer, kept with the conversation.

Which answers ask: the ones the bot composed (generated, quoted from the knowledge base, or
the fallback quote), never canned texts, holding messages or an agent's words. How each channel
asks is its own business, named by its `FeedbackStyle`: buttons where the platform has them
(Telegram's inline keyboard, Slack's buttons), a "reply 1 or 2" line on SMS.

A button press is not a message: the webhook records it at once (before the platform is
acknowledged) and nothing is answered. A "1" or "2" typed on SMS is a message like any other;
the turn takes it as a vote only while the last thing the bot sent asked for one, so the
customer's "1" means something else whenever the bot asked something else.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from core.reply import Reply, ReplySource

# Metadata keys on an outbox row that asks for feedback: the marker, and the text a channel
# without buttons ends the answer with (the bot's `feedback_request`).
ASK_KEY = "feedback"
ASKED = "ask"
PROMPT_KEY = "feedback_prompt"
# The feedback table's kinds: these votes, and the 1–5 rating asked for after a handoff.
THUMBS = "thumbs"
RATING = "rating"
BUTTON_PREFIX = "fb:"

ASKING_SOURCES = frozenset({ReplySource.LLM, ReplySource.EXTRACTIVE, ReplySource.KNOWLEDGE_FALLBACK})


class Vote(IntEnum):
    """The stored score: training data treats anything ≤ 0 as a bad answer."""

    UP = 1
    DOWN = -1


class FeedbackStyle(StrEnum):
    """How a channel asks for a vote."""

    NONE = "none"  # the console: nobody to ask
    BUTTONS = "buttons"  # a press arrives through the channel's webhook as a `VotePress`
    TEXT = "text"  # a "reply 1 / 2" line; the answer arrives as the customer's next message


@dataclass(frozen=True, slots=True)
class VotePress:
    """A customer's vote on one answer, as a channel read it from the platform.

    `conversation_key` is where the press came from; an answer of another conversation is
    never changed by it, whatever id the payload carries.
    """

    channel: str
    conversation_key: str
    outbound_id: int
    vote: Vote


_TEXT_VOTES = {"1": Vote.UP, "2": Vote.DOWN, "👍": Vote.UP, "👎": Vote.DOWN}


def asks_feedback(reply: Reply, style: FeedbackStyle) -> bool:
    """Ask only about answers the bot composed, and only when the answer offers no other
    choices: a "1" cannot mean both a choice and a vote, and two rows of buttons confuse."""
    return style is not FeedbackStyle.NONE and reply.source in ASKING_SOURCES and not reply.buttons


def parse_text_vote(text: str) -> Vote | None:
    """A reply of exactly "1"/"2" (full-width digits too) or a thumbs emoji; else None."""
    cleaned = unicodedata.normalize("NFKC", text).strip().rstrip(".!。！")
    cleaned = cleaned.replace("\ufe0f", "")  # emoji variation selector
    return _TEXT_VOTES.get(cleaned)


def button_payload(outbound_id: int, vote: Vote) -> str:
    """What a vote button carries back (short enough for Telegram's 64-byte callback_data)."""
    return f"{BUTTON_PREFIX}{outbound_id}:{'up' if vote is Vote.UP else 'down'}"


MAX_ID_DIGITS = 18


def parse_button_payload(value: str | None) -> tuple[int, Vote] | None:
    """(answer id, vote) of a vote button's payload; None for any other button."""
    if not value or not value.startswith(BUTTON_PREFIX):
        return None
    ident, _, direction = value.removeprefix(BUTTON_PREFIX).partition(":")
    # ASCII digits only ("²".isdigit() is true, int("²") is not), and few enough for a BIGINT id.
    if not (ident.isascii() and ident.isdigit() and len(ident) <= MAX_ID_DIGITS) or direction not in ("up", "down"):
        return None
    return int(ident), Vote.UP if direction == "up" else Vote.DOWN
