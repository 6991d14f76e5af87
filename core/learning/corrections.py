"""Intent corrections: customer messages whose intent a person set right.

A correction is a label on a *live* message, so it is redacted before it
becomes training text (model files keep n-grams of what they were trained
on). Corrections that could not train or would skew the held-out score
are set aside and counted, never silently used.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Collection, Sequence

from core.nlu.datasets import Example
from core.nlu.redaction import redact


@dataclass(frozen=True, slots=True)
class Correction:
    """``intent`` is the right label for customer message ``message_id``."""

    message_id: int
    text: str
    intent: str


@dataclass(frozen=True, slots=True)
class UsableCorrections:
    """Corrections ready to train on, and how many were set aside for each reason.

    ``unknown_label``: the intent is not one the bot's data defines (add
    examples to the intents folder first: one message cannot teach a new
    intent). ``held_out_text``: the message repeats a held-out example, and
    training on it would inflate the score that decides installation.
    ``duplicate``: the same text and intent appeared before. ``empty``: no
    text left (a media message, or nothing but personal data).
    """

    examples: tuple[Example, ...]
    unknown_label: int
    held_out_text: int
    duplicate: int
    empty: int

    @property
    def skipped(self) -> int:
        return self.unknown_label + self.held_out_text + self.duplicate + self.empty

    def describe(self) -> str:
        return (
            f"{len(self.examples)} corrections used, {self.skipped} set aside "
            f"(unknown intent {self.unknown_label}, repeats a held-out example {self.held_out_text}, "
            f"duplicate {self.duplicate}, empty {self.empty})"
        )


def usable_corrections(
    corrections: Sequence[Correction], labels: Collection[str], held_out: Sequence[Example]
) -> UsableCorrections:
    """Redact ``corrections`` and keep those with a known label and an unseen text."""
    held_texts = {_key(text) for text, _ in held_out}
    seen: set[Example] = set()
    examples: list[Example] = []
    unknown = leaked = duplicate = empty = 0
    for correction in corrections:
        text, intent = redact(correction.text).strip(), correction.intent.strip()
        if not text:
            empty += 1
        elif intent not in labels:
            unknown += 1
        elif _key(text) in held_texts:
            leaked += 1
        elif (text, intent) in seen:
            duplicate += 1
        else:
            seen.add((text, intent))
            examples.append((text, intent))
    return UsableCorrections(tuple(examples), unknown, leaked, duplicate, empty)


def _key(text: str) -> str:
    return " ".join(text.casefold().split())
