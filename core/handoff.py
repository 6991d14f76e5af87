"""The handoff state machine: bot → waiting → claimed(agent) → resolved → bot.

The conversation's `mode` says who owns it ("bot", "waiting", "claimed"); a `Handoff` records
one human stretch with its timestamps, and every transition is appended to an audit trail.
Transitions are compare-and-set in the store (`UPDATE … WHERE state = expected`), so when two
agents press Claim at once exactly one of them owns the conversation and the other is told so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.errors import CsbotError


class Mode(StrEnum):
    """Who owns a conversation. While a person does, the bot never speaks to the customer."""

    BOT = "bot"
    WAITING = "waiting"
    CLAIMED = "claimed"


class HandoffState(StrEnum):
    WAITING = "waiting"  # escalated, no agent yet; the SLA clock runs
    CLAIMED = "claimed"  # one agent owns the conversation
    RESOLVED = "resolved"  # handed back to the bot


OPEN_STATES = frozenset({HandoffState.WAITING, HandoffState.CLAIMED})

# The only moves there are, with the conversation mode each one leaves behind.
TRANSITIONS: dict[tuple[HandoffState, HandoffState], Mode] = {
    (HandoffState.WAITING, HandoffState.CLAIMED): Mode.CLAIMED,
    (HandoffState.WAITING, HandoffState.RESOLVED): Mode.BOT,
    (HandoffState.CLAIMED, HandoffState.RESOLVED): Mode.BOT,
}


def mode_after(source: HandoffState, target: HandoffState) -> Mode:
    """The conversation mode a transition leaves; an impossible move is a `HandoffConflict`."""
    try:
        return TRANSITIONS[(source, target)]
    except KeyError:
        raise HandoffConflict(f"a handoff cannot go from {source} to {target}") from None


class HandoffConflict(CsbotError):
    """A transition lost its compare-and-set (someone else moved first) or is not allowed."""


@dataclass(frozen=True, slots=True)
class Handoff:
    id: int
    conversation_id: int
    state: HandoffState
    reason: str
    rule: str
    agent_id: str
    desk_thread_ts: str
    suggested_reply: str
    created_at: datetime
    claimed_at: datetime | None = None
    resolved_at: datetime | None = None
    paged_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True, slots=True)
class HandoffEvent:
    """One line of the audit trail: `source` is empty for the escalation itself."""

    handoff_id: int
    source: str
    target: str
    actor: str
    at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class PendingRating:
    """A resolved handoff whose rating question is the customer's last bot message."""

    handoff_id: int
    outbound_id: int
