"""Support statistics for `/csbot stats`: how much the bot handles alone, and how customers rate it.

Besides the volumes and rates, the answer-level figures say where to improve the knowledge
base: the share of 👍 among the customers' votes on answers, the intents whose answers collect
the most 👎, and the intents that most often end with a person.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.nlu.understanding import UNKNOWN_INTENT

NO_INTENT: Final = "(no intent)"
TOP_INTENTS: Final = 5

IntentCounts = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts over a window. A conversation is "automated" when no person took part in it."""

    days: int
    messages: int
    conversations: int
    handed_over: int  # conversations with at least one handoff in the window
    median_first_reply_seconds: float | None
    ratings: int
    rating_average: float | None
    satisfied: int  # ratings of 4 or 5
    votes: int = 0  # 👍/👎 on the bot's answers
    thumbs_up: int = 0
    downvoted_intents: IntentCounts = ()  # most 👎 first, by the intent of the message answered
    handoff_intents: IntentCounts = ()  # most handoffs first, by the intent of the message that opened them
    # What the grounding check did to generated answers (see core.grounding.GroundingOutcome).
    grounded: int = 0
    regenerated: int = 0
    fallen_back: int = 0

    @property
    def automation_rate(self) -> float | None:
        return (self.conversations - self.handed_over) / self.conversations if self.conversations else None

    @property
    def handoff_rate(self) -> float | None:
        return self.handed_over / self.conversations if self.conversations else None

    @property
    def csat(self) -> float | None:
        """Share of ratings that are 4 or 5 (the usual CSAT definition)."""
        return self.satisfied / self.ratings if self.ratings else None

    @property
    def thumbs_up_rate(self) -> float | None:
        """Share of the votes on answers that were 👍."""
        return self.thumbs_up / self.votes if self.votes else None


def intent_of(understanding: Mapping[str, Any] | None) -> str:
    """The intent an analysed message was given; `NO_INTENT` when it has none (never analysed,
    no intent model, or nothing recognised)."""
    intent = (understanding or {}).get("intent")
    return str(intent) if intent and intent != UNKNOWN_INTENT else NO_INTENT


def top_intents(intents: Iterable[str], limit: int = TOP_INTENTS) -> IntentCounts:
    """The `limit` most frequent intents with their counts; ties in name order, so the report
    reads the same every time."""
    counts = Counter(intents)
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit])


def grounding_outcome(understanding: Mapping[str, Any] | None) -> str | None:
    """The grounding check's outcome recorded in a message's analysis, if it ran."""
    grounding = (understanding or {}).get("grounding")
    return str(grounding.get("outcome")) if isinstance(grounding, Mapping) else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _ranking(counts: IntentCounts) -> str:
    return ", ".join(f"{intent} {count}" for intent, count in counts) if counts else "none"


def format_stats(stats: Stats) -> str:
    first_reply = "n/a" if stats.median_first_reply_seconds is None else f"{stats.median_first_reply_seconds:.1f}s"
    average = "n/a" if stats.rating_average is None else f"{stats.rating_average:.2f}/5"
    return "\n".join(
        (
            f"Last {stats.days} day(s):",
            f"• messages: {stats.messages}",
            f"• conversations: {stats.conversations}",
            f"• automation rate: {_pct(stats.automation_rate)} (answered without a person)",
            f"• handoff rate: {_pct(stats.handoff_rate)} ({stats.handed_over} handed over)",
            f"• median first reply: {first_reply}",
            f"• CSAT: {_pct(stats.csat)} of {stats.ratings} rating(s) were 4–5; average {average}",
            f"• 👍 rate: {_pct(stats.thumbs_up_rate)} of {stats.votes} answer vote(s) ({stats.thumbs_up} 👍)",
            f"• most 👎 by intent: {_ranking(stats.downvoted_intents)}",
            f"• most handoffs by intent: {_ranking(stats.handoff_intents)}",
            f"• generated answers: {stats.grounded} grounded, {stats.regenerated} regenerated, "
            f"{stats.fallen_back} fallen back to the article",
        )
    )
