"""Monetary amounts with currency, as extracted from customer messages.

Amounts are kept as :class:`decimal.Decimal` so that "120.10" is never
turned into 120.09999; currency is an ISO 4217 code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final
from collections.abc import Iterator, Mapping

from core.nlu.chinese_numerals import NUMERAL_CHARS, parse_chinese_number


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of money in one currency."""

    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class MoneyMatch:
    """A money expression found in text."""

    start: int
    end: int
    value: Money


# "¥" is read as renminbi: the bank serves Chinese-speaking customers, for
# whom "¥"/"￥" means yuan far more often than yen.
_SYMBOLS: Final[Mapping[str, str]] = MappingProxyType(
    {"us$": "USD", "hk$": "HKD", "a$": "AUD", "c$": "CAD", "$": "USD",
     "€": "EUR", "£": "GBP", "¥": "CNY", "rmb": "CNY"}
)
_SUFFIXES: Final[Mapping[str, str]] = MappingProxyType(
    {"usd": "USD", "eur": "EUR", "gbp": "GBP", "cny": "CNY", "rmb": "CNY",
     "jpy": "JPY", "hkd": "HKD", "chf": "CHF", "aud": "AUD", "cad": "CAD",
     "dollars": "USD", "dollar": "USD", "bucks": "USD", "euros": "EUR",
     "euro": "EUR", "pounds": "GBP", "pound": "GBP", "yuan": "CNY",
     "yen": "JPY", "人民币": "CNY", "美元": "USD", "美金": "USD", "欧元": "EUR",
     "英镑": "GBP", "日元": "JPY", "港币": "HKD", "港元": "HKD",
     "块钱": "CNY", "块": "CNY", "元": "CNY"}
)
_CODES: Final = frozenset(_SUFFIXES.values())

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
_SCALE = r"(?:\s?([万千kK])(?![a-zA-Z]))?"
_SYMBOL_ALT = "|".join(re.escape(s) for s in sorted(_SYMBOLS, key=len, reverse=True))
_CODE_ALT = "|".join(sorted(_CODES))
_SUFFIX_ALT = "|".join(re.escape(s) for s in sorted(_SUFFIXES, key=len, reverse=True))
_BEFORE = re.compile(
    rf"(?<![A-Za-z])({_SYMBOL_ALT}|{_CODE_ALT})\s?({_NUMBER}){_SCALE}", re.IGNORECASE
)
_AFTER = re.compile(
    rf"(?<![\d.,])({_NUMBER}){_SCALE}\s?({_SUFFIX_ALT})(?![A-Za-z])", re.IGNORECASE
)
_CHINESE = re.compile(rf"([{NUMERAL_CHARS}]+)\s?({_SUFFIX_ALT})")
_SCALES: Final[Mapping[str, int]] = MappingProxyType({"万": 10_000, "千": 1000, "k": 1000})


def find_money(text: str) -> list[MoneyMatch]:
    """Return every amount-with-currency in ``text`` (matches may overlap)."""
    return list(_iter_money(text))


def _iter_money(text: str) -> Iterator[MoneyMatch]:
    for match in _BEFORE.finditer(text):
        currency = _SYMBOLS.get(match.group(1).lower()) or match.group(1).upper()
        yield _money(match, match.group(2), match.group(3), currency)
    for match in _AFTER.finditer(text):
        currency = _SUFFIXES[match.group(3).lower()]
        yield _money(match, match.group(1), match.group(2), currency)
    for match in _CHINESE.finditer(text):
        if all(char in "十百千万亿" for char in match.group(1)):
            continue
        amount = Decimal(parse_chinese_number(match.group(1)))
        currency = _SUFFIXES[match.group(2).lower()]
        yield MoneyMatch(match.start(), match.end(), Money(amount, currency))


def _money(match: re.Match[str], number: str, scale: str | None, currency: str) -> MoneyMatch:
    amount = Decimal(number.replace(",", ""))
    if scale:
        amount *= _SCALES[scale.lower()]
    return MoneyMatch(match.start(), match.end(), Money(amount, currency))
