"""A conversation as the learning exports read it: who said what, in order, and what was disliked.

Built by ``infra.db.training_data`` from the messages, outbox and feedback
tables; kept free of table details so the export rules can be tested on
plain values.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.records import Role


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of a conversation.

    ``source`` is the outbox row's source (``llm``, ``holding``, ...; empty
    for customer lines); ``thumbs_down`` is True when the customer gave the
    answer a 👎 (a thumbs score of 0 or below).
    """

    speaker: Role
    text: str
    source: str = ""
    thumbs_down: bool = False


@dataclass(frozen=True, slots=True)
class ConversationLog:
    conversation_id: int
    entries: tuple[LogEntry, ...]
