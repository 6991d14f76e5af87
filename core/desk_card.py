"""What the agents' desk shows about one handoff, independent of how a desk renders it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.handoff import HandoffState
from core.records import Turn


@dataclass(frozen=True, slots=True)
class DeskCard:
    """One handoff as the desk shows it: who (masked), why, a summary, the last messages (with
    personal data redacted), the bot's suggested reply, and where it stands now."""

    handoff_id: int
    conversation_id: int
    channel: str
    customer: str
    state: HandoffState
    agent_id: str
    rule: str
    reason: str
    summary: str
    last_messages: tuple[Turn, ...]
    suggested_reply: str
    waiting_since: datetime


class DeskAction(StrEnum):
    """The desk's buttons; a desk maps its own click payloads onto these."""

    CLAIM = "claim"
    SEND_SUGGESTED = "send_suggested"
    RESOLVE = "resolve"
