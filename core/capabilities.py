"""What a channel can show, as the turn engine needs to know it."""

from __future__ import annotations

from dataclasses import dataclass

from core.feedback import FeedbackStyle


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Declared by each channel (see `channels.spec.ChannelSpec`), read when presenting an answer.

    `streaming` (a growing draft or a streaming API) and `edits` (replacing a sent message's text)
    tell a streaming turn which way, if any, a partial answer can be shown; `max_message_chars`
    is the most one message holds, so a presenter knows when to start another. `typing` means the
    channel implements `TypingIndicator`.
    """

    feedback_style: FeedbackStyle = FeedbackStyle.NONE
    typing: bool = False
    streaming: bool = False
    edits: bool = False
    max_message_chars: int = 4096


PLAIN = Capabilities()
