"""A reply as chat.postMessage arguments: escaped mrkdwn parts, choice buttons, the vote row (Block
Kit through `slack_sdk.models.blocks`, which checks Slack's limits as it renders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, PlainTextObject, SectionBlock

from channels.shaping import with_source
from channels.slack.format import MAX_CHUNK_CHARS, escape_mrkdwn, split_escaped
from channels.slack.interactions import CHOICE_ACTION_PREFIX, VOTE_ACTION_PREFIX
from core.feedback import Vote, button_payload
from core.messages import Button, OutboundMessage

MAX_BUTTONS = 25  # elements per actions block
BUTTON_LABEL_CHARS = 75
BUTTON_VALUE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Target:
    channel: str
    thread_ts: str


def target_of(message: OutboundMessage) -> Target:
    """Where a reply goes: the metadata intake stored, else what the conversation key encodes
    (`D…` for a DM, `C…:ts` for a channel thread), so replies that were not written in answer
    to one inbound message (an agent's, say) still find the thread."""
    channel = message.metadata.get("channel", "")
    if channel:
        return Target(channel, message.metadata.get("thread_ts", ""))
    channel, _, thread_ts = message.conversation_key.partition(":")
    return Target(channel, thread_ts)


def vote_block(outbound_id: int) -> dict[str, Any]:
    """👍 / 👎 under an answer; each carries the answer's id back in its value."""
    elements = [
        ButtonElement(
            text=PlainTextObject(text=label, emoji=True), value=button_payload(outbound_id, vote),
            action_id=f"{VOTE_ACTION_PREFIX}{vote.name.lower()}",
        )
        for label, vote in (("👍", Vote.UP), ("👎", Vote.DOWN))
    ]
    return ActionsBlock(block_id="csbot_vote", elements=elements).to_dict()


def text_block(text: str) -> dict[str, Any]:
    """A section showing (already escaped) mrkdwn."""
    return SectionBlock(text=MarkdownTextObject(text=text)).to_dict()


def button_blocks(text: str, buttons: tuple[Button, ...]) -> list[dict[str, Any]]:
    """A section with the (already escaped) text, then the choices as an actions block."""
    elements = [
        ButtonElement(
            text=PlainTextObject(text=b.label[:BUTTON_LABEL_CHARS], emoji=True), value=b.value[:BUTTON_VALUE_CHARS],
            action_id=f"{CHOICE_ACTION_PREFIX}{i}",
        )
        for i, b in enumerate(buttons[:MAX_BUTTONS])
    ]
    return [text_block(text), ActionsBlock(block_id="csbot_choices", elements=elements).to_dict()]


def button_fallback(buttons: tuple[Button, ...]) -> str:
    """Plain-text choices for notifications and clients that cannot render blocks."""
    return "\n".join(f"{i}. {b.label}" for i, b in enumerate(buttons, start=1))


def compose(message: OutboundMessage, limit: int = MAX_CHUNK_CHARS) -> list[dict[str, Any]]:
    """The chat.postMessage arguments (text, blocks) for each part of a reply, in order.

    Buttons ride on the last part; their text fallback is appended to that part's `text`, which
    is what notifications and block-less clients show.
    """
    chunks = split_escaped(with_source(message.text, message.metadata, message.language), limit) or [""]
    parts: list[dict[str, Any]] = [{"text": chunk} for chunk in chunks]
    last = parts[-1]["text"]
    if message.buttons:
        fallback = escape_mrkdwn(button_fallback(message.buttons))
        parts[-1] = {"text": f"{last}\n\n{fallback}".strip(), "blocks": button_blocks(last or " ", message.buttons)}
    if message.ask_feedback:
        blocks = parts[-1].get("blocks") or [text_block(last or " ")]
        parts[-1] = {**parts[-1], "blocks": [*blocks, vote_block(message.id)]}
    return parts
