"""Support statistics for `/csbot stats`: how much the bot handles alone, and how customers rate it."""

from __future__ import annotations

from dataclasses import dataclass


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


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


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
        )
    )
