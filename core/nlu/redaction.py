"""Redaction of personal data before text is logged, stored or sent to an LLM.

Redaction builds on :func:`extract_entities` so that it hides exactly what
the extractor recognises, then sweeps up any long digit run the patterns
did not classify: a mistyped card number fails the Luhn check but is still
a card number, and it must never leave the bank's systems in clear text.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final
from collections.abc import Mapping

from core.nlu.checksums import luhn_valid
from core.nlu.entities import Entity, EntityKind, extract_entities

PLACEHOLDERS: Final[Mapping[EntityKind, str]] = MappingProxyType(
    {
        "card_number": "[CARD]",
        "card_last4": "[CARD_LAST4]",
        "phone": "[PHONE]",
        "email": "[EMAIL]",
        "account_number": "[ACCOUNT]",
        "iban": "[ACCOUNT]",
    }
)
CARD_LIKE: Final = "[CARD]"
LONG_NUMBER: Final = "[NUMBER]"

# Digit runs (spaces/dashes allowed inside) that no pattern explained.
_MASKED_CARD = re.compile(r"\[CARD ending \d{4}\]")  # what `mask_secrets` leaves of a card
_DIGIT_RUN = re.compile(r"(?<![\d])\d(?:[ -]?\d){7,}(?![\d])")
_CARD_LENGTHS: Final = range(13, 20)

_Span = tuple[int, int, str]


def redact(text: str) -> str:
    """Return ``text`` with personal data replaced by placeholders.

    Card numbers become ``[CARD]``, last-4 digits ``[CARD_LAST4]``, phone
    numbers ``[PHONE]``, e-mail addresses ``[EMAIL]`` and account numbers
    and IBANs ``[ACCOUNT]``. Any other run of 8 or more digits becomes
    ``[CARD]`` when it has a card's length and ``[NUMBER]`` otherwise;
    order and tracking numbers, amounts and dates are kept because the
    conversation needs them and they identify no one. A card already masked
    where it was stored ("[CARD ending 1111]") becomes ``[CARD]`` too.
    """
    text = _MASKED_CARD.sub(CARD_LIKE, text)
    entities = extract_entities(text)
    spans = _personal_spans(entities) + _unexplained_digit_runs(text, entities)
    for start, end, placeholder in sorted(spans, reverse=True):
        text = text[:start] + placeholder + text[end:]
    return text


def _personal_spans(entities: tuple[Entity, ...]) -> list[_Span]:
    return [
        (entity.start, entity.end, PLACEHOLDERS[entity.kind])
        for entity in entities
        if entity.kind in PLACEHOLDERS
    ]


def _unexplained_digit_runs(text: str, entities: tuple[Entity, ...]) -> list[_Span]:
    """Long digit runs not covered by any entity, order and tracking numbers aside.

    Kept entities (order/tracking numbers, amounts, dates) shield their own
    digits; a run overlapping a redacted entity is already handled.
    """
    spans: list[_Span] = []
    for match in _DIGIT_RUN.finditer(text):
        if any(e.start < match.end() and match.start() < e.end for e in entities):
            continue
        digits = re.sub(r"\D", "", match.group(0))
        placeholder = CARD_LIKE if len(digits) in _CARD_LENGTHS else LONG_NUMBER
        spans.append((match.start(), match.end(), placeholder))
    return spans


# --- secrets: what must never be written down, even where other personal data may be ----------

_CARD_RUN = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")
# A code is masked only when what follows its label has a digit ("cvv 123", "the one-time code
# 445566"), a password only after "password is"/"password:": a customer asking how to reset a
# password, or saying the code never came, must keep their words, since the stored text is what
# the bot answers from.
_SECRET_AFTER = re.compile(
    r"(?P<label>(?:\b(?:cvv2?|cvc2?|csc|security code|one[- ]time (?:code|password|passcode)|otp|"
    r"verification code|passcode|pin)\b\s*(?:(?:is|was)\b\s*)?[:=#]?\s*|验证码(?:是|为)?\s*[:：]?\s*))"
    r"(?=[\w-]*\d)(?P<secret>[\w-]+)"
    r"|(?P<plabel>(?:\bpassword(?:\s+is\b|\s*[:=])|密码(?:是|为|[:：]))\s*)(?P<password>\S+)",
    re.IGNORECASE,
)
SECRET: Final = "[SECRET]"


def mask_secrets(text: str) -> str:
    """Luhn-valid card numbers become "[CARD ending 1111]" (the last four still inform the turn
    and the agent), and whatever follows "cvv", "one-time code", "password is" and the like
    becomes "[SECRET]". Cheap enough to run on every log record."""
    text = _CARD_RUN.sub(_card_placeholder, text)
    return _SECRET_AFTER.sub(lambda m: f"{m.group('label') or m.group('plabel')}{SECRET}", text)


def _card_placeholder(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"[CARD ending {digits[-4:]}]" if luhn_valid(digits) else match.group(0)
