"""Conversations as chat-format fine-tuning examples, with bad answers removed and personal data redacted.

One example per conversation: the persona as the system message, then
alternating user and assistant turns. Consecutive customer messages form
one user turn and consecutive replies one assistant turn, because many
chat templates require strict alternation.

An answer the customer gave a 👎, or a holding message sent when the bot
had nothing to say, must not be learnt. When a human agent answered in the
same turn after it, the agent's answer takes its place (that is the answer
the bot should have given); otherwise the turn is dropped, together with
the customer message it answered. Turns without customer text (media only)
or without a reply are dropped too, so every example ends with an answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final, Literal

from core.learning.transcripts import ConversationLog, LogEntry
from core.nlu.redaction import redact
from core.records import Role

# Outbox sources whose text is never a good answer to learn.
UNUSABLE_SOURCES: Final = frozenset({"holding"})
TURN_SEPARATOR: Final = "\n\n"

ChatRole = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: ChatRole
    content: str


@dataclass(frozen=True, slots=True)
class ChatExample:
    """One conversation ready for fine-tuning, plus what was changed to get there."""

    conversation_id: int
    messages: tuple[ChatMessage, ...]
    replaced: int
    dropped: int

    @property
    def usable(self) -> bool:
        """True when there is at least one user turn with its answer."""
        return len(self.messages) >= 3

    def to_json(self) -> str:
        """The JSONL line: ``{"messages": [{"role": ..., "content": ...}, ...]}``."""
        payload = {"messages": [{"role": m.role, "content": m.content} for m in self.messages]}
        return json.dumps(payload, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class _Turn:
    asked: tuple[LogEntry, ...]
    answers: tuple[LogEntry, ...]


def build_chat_example(log: ConversationLog, persona: str) -> ChatExample:
    """Turn ``log`` into a chat example (check :attr:`ChatExample.usable` before writing it)."""
    messages = [ChatMessage("system", persona.strip())]
    replaced = dropped = 0
    for turn in _turns(log.entries):
        question = _joined(turn.asked)
        answers, was_replaced = _good_answers(turn.answers)
        if not question or not answers:
            dropped += bool(question and turn.answers)
            continue
        answer = _joined(answers)
        if not answer:
            continue
        replaced += was_replaced
        messages += [ChatMessage("user", question), ChatMessage("assistant", answer)]
    return ChatExample(log.conversation_id, tuple(messages), replaced, dropped)


def _turns(entries: tuple[LogEntry, ...]) -> list[_Turn]:
    """Group entries into (customer lines, replies) turns."""
    turns: list[tuple[list[LogEntry], list[LogEntry]]] = []
    for entry in entries:
        customer = entry.speaker is Role.CUSTOMER
        if not turns or (customer and turns[-1][1]):
            turns.append(([], []))
        turns[-1][0 if customer else 1].append(entry)
    return [_Turn(tuple(asked), tuple(answers)) for asked, answers in turns]


def _good_answers(answers: tuple[LogEntry, ...]) -> tuple[tuple[LogEntry, ...], bool]:
    """The replies worth learning from, and whether an agent's answer replaced a bad one.

    Returns no replies when a bad one has no agent answer after it.
    """
    bad = [i for i, entry in enumerate(answers) if entry.thumbs_down or entry.source in UNUSABLE_SOURCES]
    if not bad:
        return answers, False
    agents = tuple(e for e in answers[bad[-1] + 1 :] if e.speaker is Role.AGENT and not e.thumbs_down)
    return agents, bool(agents)


def _joined(entries: tuple[LogEntry, ...]) -> str:
    texts = (redact(entry.text).strip() for entry in entries)
    return TURN_SEPARATOR.join(text for text in texts if text)
