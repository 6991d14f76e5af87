"""What the domain tells an operator: the `Observer` port core and the LLM client report to.

Core only says *what happened* (a turn ended with this outcome, a handoff waited this long, a
generation produced its first token); `infra.metrics` turns that into Prometheus series. So
core stays free of any metrics library, and tests can pass an observer that records calls.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class TurnOutcome(StrEnum):
    """How a customer message was handled, as an operator charts it."""

    ANSWERED = "answered"  # the bot's composed answer went out
    FELL_BACK = "fell_back"  # the LLM failed or was unusable: a knowledge excerpt or holding reply
    ESCALATED = "escalated"  # handed to a person
    RELAYED = "relayed"  # a person already owns the conversation: passed on, bot silent
    ACKNOWLEDGED = "acknowledged"  # a rating or vote, thanked


class Observer(Protocol):
    """Receives events worth a metric. Calls must be cheap and must never raise."""

    def turn_finished(self, outcome: TurnOutcome, seconds: float) -> None: ...

    def handoff_claimed(self, waited_seconds: float) -> None: ...

    def generation_started(self) -> None: ...

    def first_token(self, seconds: float) -> None: ...

    def generation_finished(self, seconds: float, tokens: int, error: str | None) -> None:
        """`error` is the failure's kind (an `LLMError` class name), None on success."""


class Unobserved:
    """The observer of a process that exports nothing (scripts, most tests)."""

    __slots__ = ()

    def turn_finished(self, outcome: TurnOutcome, seconds: float) -> None:
        return None

    def handoff_claimed(self, waited_seconds: float) -> None:
        return None

    def generation_started(self) -> None:
        return None

    def first_token(self, seconds: float) -> None:
        return None

    def generation_finished(self, seconds: float, tokens: int, error: str | None) -> None:
        return None


UNOBSERVED = Unobserved()
