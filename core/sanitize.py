"""Text as the database can hold it: no NUL, no lone surrogates, identifiers of bounded length.

PostgreSQL refuses a NUL in `text` and `jsonb`, and no UTF-8 encoder accepts a lone surrogate
(JSON can spell one as "\\ud800"). Either would fail the insert inside a webhook and turn a
platform's request into a 500 that it re-sends forever, so every string from outside is cleaned
once, at the edge, before anything reads it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.errors import BadInput
from core.messages import InboundMessage

MAX_ID_CHARS = 255  # the width of the identifier columns (conversation key, sender, message id)
MAX_NAME_CHARS = 255
MAX_META_CHARS = 255
MAX_META_ITEMS = 32
MAX_DEPTH = 32  # nesting no platform payload comes near; deeper is refused before any model reads it

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(value: str, limit: int | None = None) -> str:
    """`value` without NUL and surrogate code points, cut to `limit` characters when given."""
    cleaned = _UNSTORABLE.sub("", value)
    return cleaned[:limit] if limit is not None else cleaned


def clean_tree(data: Any) -> Any:
    """Every string (keys included) in a parsed JSON value cleaned; the shape is unchanged."""
    if isinstance(data, str):
        return clean_text(data)
    if isinstance(data, list):
        return [clean_tree(item) for item in data]
    if isinstance(data, dict):
        return {clean_text(str(key)): clean_tree(value) for key, value in data.items()}
    return data


def depth(data: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def clean_inbound(message: InboundMessage) -> InboundMessage:
    """The message with storable text; `BadInput` naming the field when an identifier is too long
    to store (cutting one could merge two customers or two messages)."""
    for name in ("channel", "platform_message_id", "conversation_key", "sender_id"):
        value = getattr(message, name)
        if len(value) > MAX_ID_CHARS:
            raise BadInput(f"{name} is {len(value)} characters; the limit is {MAX_ID_CHARS}")
    return replace(
        message,
        platform_message_id=clean_text(message.platform_message_id),
        conversation_key=clean_text(message.conversation_key),
        sender_id=clean_text(message.sender_id),
        text=clean_text(message.text),
        sender_name=clean_text(message.sender_name or "", MAX_NAME_CHARS),
        metadata=clean_metadata(message.metadata),
    )


def clean_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    items = list(metadata.items())[:MAX_META_ITEMS]
    return {clean_text(str(k), MAX_META_CHARS): clean_text(str(v), MAX_META_CHARS) for k, v in items}
