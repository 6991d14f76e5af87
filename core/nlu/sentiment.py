"""Lexicon-based sentiment for English and Chinese customer messages.

The conversation engine uses sentiment to escalate angry customers to a
human early, so the scorer favours catching clear anger over nuance. A
lexicon with negation, intensifiers and emphasis (``!!!``, ALL CAPS) is
transparent, needs no model file and runs in microseconds per message.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

from core.nlu.language import CHINESE, detect_language
from core.nlu.sentiment_lexicon import (
    CHINESE_BOOSTERS,
    CHINESE_NEGATORS,
    CHINESE_WORDS,
    ENGLISH_BOOSTERS,
    ENGLISH_NEGATORS,
    ENGLISH_PHRASES,
    ENGLISH_WORDS,
)

SentimentLabel = Literal["negative", "neutral", "positive"]

# Labels switch at this absolute score; below it a message reads as neutral.
LABEL_THRESHOLD: Final = 0.25
# At or below this score a customer is clearly upset (escalation signal).
STRONGLY_NEGATIVE: Final = -0.6
# Squashes the unbounded valence sum into (-1, 1); 15 is the usual choice
# for a -4..+4 lexicon (one strong word lands around +/-0.6).
_NORMALIZER: Final = 15.0
_NEGATION_FACTOR: Final = -0.6
_NEGATION_WINDOW: Final = 3
_EXCLAMATION_BONUS: Final = 0.3
_MAX_EXCLAMATIONS: Final = 4
_CAPS_WORD_FACTOR: Final = 1.3
_SHOUTING_VALENCE: Final = -1.5
_IMPATIENCE_VALENCE: Final = -1.2

_EN_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|[.,;:?!]")
# A run that mixes "?" and "!" ("???!!!", "?!") reads as exasperation.
_EXASPERATED_PUNCT = re.compile(r"\?[?!]*!|![?!]*\?")
_CLAUSE_BREAK = frozenset(".,;:?!")
_ZH_PUNCT = frozenset("，。；：！？,.;:!?、 ")
_ZH_MAX_ENTRY = max(len(word) for word in CHINESE_WORDS)


@dataclass(frozen=True, slots=True)
class Sentiment:
    """Sentiment of one message: a label and a score in [-1, 1]."""

    label: SentimentLabel
    score: float

    @property
    def strongly_negative(self) -> bool:
        """True when the customer is clearly upset (worth escalating)."""
        return self.score <= STRONGLY_NEGATIVE


def analyze_sentiment(text: str) -> Sentiment:
    """Score ``text`` with the lexicon of its detected language."""
    folded = unicodedata.normalize("NFKC", text)
    if detect_language(folded) == CHINESE:
        valence = _chinese_valence(folded) + _english_valence(folded)
    else:
        valence = _english_valence(folded)
    valence = _emphasize(valence, folded)
    score = valence / math.sqrt(valence * valence + _NORMALIZER)
    return Sentiment(label=_label_for(score), score=round(score, 4))


def _label_for(score: float) -> SentimentLabel:
    if score <= -LABEL_THRESHOLD:
        return "negative"
    if score >= LABEL_THRESHOLD:
        return "positive"
    return "neutral"


def _emphasize(valence: float, text: str) -> float:
    """Apply message-level emphasis: exclamation marks and shouting.

    Emphasis strengthens whatever polarity is already there; shouting, or
    "?!"-style punctuation, in a message with no positive words is read as
    mild anger.
    """
    if _is_shouting(text) and valence <= 0:
        valence += _SHOUTING_VALENCE
    if valence <= 0 and _EXASPERATED_PUNCT.search(text):
        valence += _IMPATIENCE_VALENCE
    bangs = min(text.count("!"), _MAX_EXCLAMATIONS)
    if valence and bangs:
        valence += math.copysign(bangs * _EXCLAMATION_BONUS, valence)
    return valence


def _is_shouting(text: str) -> bool:
    words = re.findall(r"[A-Za-z]{2,}", text)
    if len(words) < 2:
        return False
    return sum(w.isupper() for w in words) / len(words) >= 0.7


# --- English -----------------------------------------------------------------


def _english_valence(text: str) -> float:
    tokens = _EN_TOKEN.findall(text)
    lowered = [t.lower() for t in tokens]
    total = 0.0
    index = 0
    while index < len(tokens):
        valence, width = _english_hit(lowered, index)
        if width:
            total += _english_modifiers(tokens, lowered, index, valence)
            index += width
        else:
            index += 1
    return total


def _english_hit(lowered: list[str], index: int) -> tuple[float, int]:
    """Return (valence, tokens consumed) for a lexicon entry at ``index``."""
    for width in (3, 2):
        phrase = tuple(lowered[index : index + width])
        if phrase in ENGLISH_PHRASES:
            return ENGLISH_PHRASES[phrase], width
    word = lowered[index]
    if word in ENGLISH_WORDS:
        return ENGLISH_WORDS[word], 1
    return 0.0, 0


def _english_modifiers(
    tokens: list[str], lowered: list[str], index: int, valence: float
) -> float:
    """Scale ``valence`` by ALL CAPS, a preceding booster and negation."""
    token = tokens[index]
    if len(token) > 1 and token.isupper():
        valence *= _CAPS_WORD_FACTOR
    if index and lowered[index - 1] in ENGLISH_BOOSTERS:
        valence *= ENGLISH_BOOSTERS[lowered[index - 1]]
    for previous in reversed(lowered[max(0, index - _NEGATION_WINDOW) : index]):
        if previous in _CLAUSE_BREAK:
            break
        if previous in ENGLISH_NEGATORS:
            return valence * _NEGATION_FACTOR
    return valence


# --- Chinese -----------------------------------------------------------------


def _chinese_valence(text: str) -> float:
    total = 0.0
    index = 0
    while index < len(text):
        entry = _chinese_hit(text, index)
        if entry:
            total += _chinese_modifiers(text, index, CHINESE_WORDS[entry])
            index += len(entry)
        else:
            index += 1
    return total


def _chinese_hit(text: str, index: int) -> str:
    """Return the longest lexicon entry starting at ``index`` (or "")."""
    for width in range(min(_ZH_MAX_ENTRY, len(text) - index), 0, -1):
        candidate = text[index : index + width]
        if candidate in CHINESE_WORDS:
            return candidate
    return ""


def _chinese_modifiers(text: str, index: int, valence: float) -> float:
    """Scale ``valence`` by a preceding booster and a nearby negator."""
    before = text[max(0, index - 4) : index]
    for booster in sorted(CHINESE_BOOSTERS, key=len, reverse=True):
        if before.endswith(booster):
            valence *= CHINESE_BOOSTERS[booster]
            break
    window = _clause_tail(before)
    if any(negator in window for negator in CHINESE_NEGATORS):
        return valence * _NEGATION_FACTOR
    return valence


def _clause_tail(before: str) -> str:
    """Return the part of ``before`` after the last punctuation mark."""
    for position in range(len(before) - 1, -1, -1):
        if before[position] in _ZH_PUNCT:
            return before[position + 1 :]
    return before
