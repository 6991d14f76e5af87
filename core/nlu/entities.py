"""Entity extraction for English and Chinese customer messages.

The conversation engine needs amounts, dates and identifiers to fill
request slots, and the redactor needs every piece of personal data. Both
use this one extractor so that what is understood and what is hidden
never disagree. Regular expressions with checksums (Luhn, IBAN mod 97)
keep precision high without a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal
from collections.abc import Callable, Iterable, Iterator

from core.nlu.checksums import iban_valid, luhn_valid
from core.nlu.dates import find_dates
from core.nlu.money import Money, find_money
from core.nlu.normalization import fold_width

EntityKind = Literal[
    "email", "iban", "card_number", "phone", "card_last4", "account_number",
    "order_number", "tracking_number", "amount", "date",
]
EntityValue = str | Money | date

# When two candidate spans overlap the kind listed first wins: a Luhn-valid
# 16-digit run is a card even after "account number", and a card or phone
# number must never be read as an amount or a date.
PRIORITY: Final[tuple[EntityKind, ...]] = (
    "email", "iban", "card_number", "phone", "card_last4", "account_number",
    "order_number", "tracking_number", "amount", "date",
)


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity found in a message.

    ``start``/``end`` index into the text passed to :func:`extract_entities`
    (``text[start:end] == entity.text``). ``value`` is normalised: digits
    only for numbers, :class:`Money` for amounts, :class:`datetime.date`
    for dates, lower-cased address for emails.
    """

    kind: EntityKind
    text: str
    start: int
    end: int
    value: EntityValue


def extract_entities(text: str, *, today: date | None = None) -> tuple[Entity, ...]:
    """Return the non-overlapping entities in ``text`` in reading order.

    ``today`` anchors relative dates ("tomorrow", "昨天"); it defaults to
    the current local date.
    """
    folded = fold_width(text)
    candidates = list(_candidates(folded, today or date.today()))
    chosen = _resolve_overlaps(candidates)
    return tuple(
        Entity(kind, text[start:end], start, end, value)
        for kind, start, end, value in sorted(chosen, key=lambda c: c[1])
    )


_Candidate = tuple[EntityKind, int, int, EntityValue]


def _resolve_overlaps(candidates: list[_Candidate]) -> list[_Candidate]:
    """Keep the highest-priority, then longest, candidate of each overlap."""
    ranked = sorted(candidates, key=lambda c: (PRIORITY.index(c[0]), c[1] - c[2], c[1]))
    chosen: list[_Candidate] = []
    for candidate in ranked:
        if all(candidate[2] <= kept[1] or candidate[1] >= kept[2] for kept in chosen):
            chosen.append(candidate)
    return chosen


def _candidates(text: str, today: date) -> Iterator[_Candidate]:
    for finder in _FINDERS:
        yield from finder(text)
    for money in find_money(text):
        yield ("amount", money.start, money.end, money.value)
    for found in find_dates(text, today):
        yield ("date", found.start, found.end, found.value)


# --- personal identifiers -----------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\d)")
_PHONE_CN = re.compile(r"(?<!\d)(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_PHONE_NANP = re.compile(r"(?<!\d)(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d)")

_LAST4 = re.compile(
    r"(?:(?:ending|ends|end)(?:\s+(?:in|with))?|last\s+(?:4|four)(?:\s+digits)?"
    r"(?:\s+(?:are|is|of))?|[*xX•]{4}[ -]?|尾号(?:是|为)?|后四位(?:是|为)?|末四位(?:是|为)?)"
    r"\s*[:：]?\s*(\d{4})(?!\d)",
    re.IGNORECASE,
)
_ACCOUNT = re.compile(
    r"(?:\b(?:account|acct|a/c)(?:\s+(?:number|no\.?|num))?\s*(?:is|:|#)?\s*#?"
    r"|(?:账号|帐号|账户|帐户|卡号)(?:是|为)?\s*[:：]?\s*)"
    r"(\d(?:[ -]?\d){5,33})(?!\d)",
    re.IGNORECASE,
)
_ORDER = re.compile(
    r"(?:\b(?:order|reference|ref|transaction)(?:\s+(?:number|no\.?|id|code))?\s*(?:is|:|#)?\s*#?"
    r"|(?:订单号|订单编号|交易号|流水号|参考号)(?:是|为)?\s*[:：]?\s*)"
    r"([A-Za-z]*\d[A-Za-z0-9-]{3,})",
    re.IGNORECASE,
)
_TRACKING = re.compile(
    r"(?:\b(?:tracking|shipment|parcel)(?:\s+(?:number|no\.?|id|code))?\s*(?:is|:|#)?\s*#?"
    r"|(?:快递单号|运单号|物流单号)(?:是|为)?\s*[:：]?\s*)"
    r"([A-Za-z]{0,4}\d[A-Za-z0-9]{7,29})",
    re.IGNORECASE,
)


def _digits(raw: str) -> str:
    return re.sub(r"\D", "", raw)


def _emails(text: str) -> Iterator[_Candidate]:
    for match in _EMAIL.finditer(text):
        yield ("email", match.start(), match.end(), match.group(0).lower())


def _ibans(text: str) -> Iterator[_Candidate]:
    for match in _IBAN.finditer(text):
        compact = match.group(0).replace(" ", "")
        if iban_valid(compact):
            yield ("iban", match.start(), match.end(), compact)


def _cards(text: str) -> Iterator[_Candidate]:
    for match in _CARD.finditer(text):
        digits = _digits(match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            yield ("card_number", match.start(), match.end(), digits)


def _phones(text: str) -> Iterator[_Candidate]:
    for pattern in (_PHONE_INTL, _PHONE_CN, _PHONE_NANP):
        for match in pattern.finditer(text):
            digits = _digits(match.group(0))
            if 7 <= len(digits) <= 15:
                value = "+" + digits if match.group(0).startswith("+") else digits
                yield ("phone", match.start(), match.end(), value)


def _anchored(kind: EntityKind, pattern: re.Pattern[str], keep: Callable[[str], str]
              ) -> Callable[[str], Iterator[_Candidate]]:
    """Build a finder whose entity is the identifier after a keyword.

    The span covers only the identifier, so redaction keeps the keyword
    ("card ending [CARD_LAST4]") and the reader keeps the context.
    """

    def find(text: str) -> Iterator[_Candidate]:
        for match in pattern.finditer(text):
            yield (kind, match.start(1), match.end(1), keep(match.group(1)))

    return find


_FINDERS: Final[Iterable[Callable[[str], Iterator[_Candidate]]]] = (
    _emails,
    _ibans,
    _cards,
    _phones,
    _anchored("card_last4", _LAST4, str),
    _anchored("account_number", _ACCOUNT, _digits),
    _anchored("order_number", _ORDER, str.upper),
    _anchored("tracking_number", _TRACKING, str.upper),
)
