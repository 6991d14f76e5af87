"""Slack text in both directions: mrkdwn escaping and splitting for replies, plain text for intake.

Slack reserves `&`, `<` and `>` in message text: `<...>` is a link, a user mention or a
`<!channel>` broadcast. An answer that quotes "fees < 5 EUR" or, worse, an `<!everyone>` that
slipped into the knowledge base must reach the customer as characters, never as markup, so every
outbound chunk is escaped. Inbound text arrives escaped the same way and with the bot's mention
in it; the engine wants what the customer typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Slack truncates a message over 40,000 characters; a section block takes at most 3,000. Replies
# are cut well below both, so every chunk fits a block and stays readable on a phone.
MAX_CHUNK_CHARS = 3000

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BREAKS = ("\n\n", "\n", ". ", "。", "! ", "? ", "; ", ", ", " ")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as control sequences, and nothing else.

    Formatting characters (`*`, `_`, `~`, backticks) are left alone on purpose: answers may use
    them, and Slack has no escape for them anyway.
    """
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def unescape_mrkdwn(text: str) -> str:
    """Undo Slack's escaping of inbound text (`&amp;` last, so `&amp;lt;` stays `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_mentions(text: str, user_ids: Iterable[str]) -> str:
    """Remove `<@U123>` / `<@U123|name>` for the given users (the bot), keep other mentions."""
    for user_id in user_ids:
        text = re.sub(rf"<@{re.escape(user_id)}(?:\|[^>]*)?>", " ", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def plain_text(text: str, bot_user_ids: Iterable[str]) -> str:
    """What the customer typed: bot mention gone, links as their label (or URL), unescaped."""
    text = strip_mentions(text, bot_user_ids)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1).removeprefix("mailto:"), text)
    return unescape_mrkdwn(text).strip()


def split_escaped(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """Split `text` into escaped chunks of at most `limit` characters each, in order.

    Splitting happens on the raw text (so an `&amp;` is never cut in half) while measuring the
    escaped length (so escaping cannot push a chunk over the limit). Cuts prefer paragraph,
    line, sentence and word boundaries in that order, but only in the second half of a chunk,
    so a long unbroken run still makes progress.
    """
    if limit < 10:
        raise ValueError("limit must leave room for at least a few characters")
    chunks: list[str] = []
    rest = text.strip()
    while rest:
        if len(escape_mrkdwn(rest)) <= limit:
            chunks.append(escape_mrkdwn(rest))
            break
        cut = _cut_point(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            chunks.append(escape_mrkdwn(head))
    return chunks


def _cut_point(text: str, limit: int) -> int:
    """Index in `text` where the first chunk ends: the longest prefix whose escaped form fits,
    pulled back to the best natural boundary in its second half."""
    fits = 0
    size = 0
    for index, ch in enumerate(text):
        size += len(_ESCAPES.get(ch, ch))
        if size > limit:
            break
        fits = index + 1
    window = text[:fits]
    for mark in _BREAKS:
        at = window.rfind(mark)
        if at >= fits // 2:
            return at + len(mark)
    return fits
