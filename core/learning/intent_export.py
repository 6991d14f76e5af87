"""Customer messages with their predicted and corrected intents, as CSV for labelling.

Reviewers read this file to correct intents, and it may leave the bank's
systems for a labelling vendor, so every text is redacted. The keys read
from a message's stored understanding are the ones the conversation engine
writes (``intent``) and the one a correction adds (``corrected_intent``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Any, Final, TextIO
from collections.abc import Mapping

from core.nlu.redaction import redact

PREDICTED_KEY: Final = "intent"
CORRECTED_KEY: Final = "corrected_intent"
CSV_HEADER: Final = ("text", "predicted", "corrected")


@dataclass(frozen=True, slots=True)
class IntentRecord:
    """One customer message; ``predicted``/``corrected`` are empty when unknown."""

    message_id: int
    text: str
    predicted: str
    corrected: str

    @classmethod
    def from_understanding(cls, message_id: int, text: str, understanding: Mapping[str, Any] | None) -> IntentRecord:
        """Read the intents out of a message's stored understanding (missing or non-string keys read as empty)."""
        stored = understanding or {}
        return cls(message_id, text, _label(stored.get(PREDICTED_KEY)), _label(stored.get(CORRECTED_KEY)))


class IntentCsvWriter:
    """Writes the header at once, then one redacted row per record that has text."""

    __slots__ = ("_writer", "rows")

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        self._writer.writerow(CSV_HEADER)
        self.rows = 0

    def write(self, record: IntentRecord) -> bool:
        """Write ``record``; False (and nothing written) when no text is left after redaction."""
        text = redact(record.text).strip()
        if not text:
            return False
        self._writer.writerow((text, record.predicted, record.corrected))
        self.rows += 1
        return True


def _label(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
