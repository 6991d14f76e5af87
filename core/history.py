"""A bounded history window, so the prompt stays the same size however long a conversation runs."""

from __future__ import annotations

from collections.abc import Sequence

from core.records import Turn


def window(turns: Sequence[Turn], *, max_turns: int, max_chars: int) -> list[Turn]:
    """The most recent turns that fit both bounds, oldest first.

    Newest turns matter most, so the window fills from the end and drops the oldest first;
    a single over-long turn is cut at its start rather than dropped.
    """
    kept: list[Turn] = []
    budget = max_chars
    for turn in reversed(turns[-max_turns:] if max_turns else []):
        if budget <= 0:
            break
        text = turn.text if len(turn.text) <= budget else "…" + turn.text[-(budget - 1) :]
        kept.append(Turn(turn.role, text))
        budget -= len(text)
    kept.reverse()
    return kept
