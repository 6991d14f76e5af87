"""Recognition and resolution of date expressions in English and Chinese.

Customers refer to transactions by relative days ("yesterday", "昨天") and
calendar dates ("March 5", "3月5日", "2026-03-05"); resolving them to a
:class:`datetime.date` relative to a reference day lets the engine query
transactions without a second parsing step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Final
from collections.abc import Iterator, Mapping

from core.nlu.chinese_numerals import NUMERAL_CHARS, parse_chinese_number


@dataclass(frozen=True, slots=True)
class DateMatch:
    """A date expression found in text, with its resolved calendar day."""

    start: int
    end: int
    value: date


_MONTHS: Final[Mapping[str, int]] = MappingProxyType(
    {name: number for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")], start=1) for name in names}
)
_WEEKDAYS: Final[Mapping[str, int]] = MappingProxyType(
    {name: index for index, name in enumerate(
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])}
)
_RELATIVE_DAYS: Final[Mapping[str, int]] = MappingProxyType(
    {"day before yesterday": -2, "day after tomorrow": 2, "yesterday": -1,
     "today": 0, "tonight": 0, "tomorrow": 1,
     "大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0,
     "明天": 1, "明日": 1, "后天": 2, "大后天": 3}
)

_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ORDINAL = r"(?:st|nd|rd|th)?"
_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_MONTH_DAY = re.compile(
    rf"\b({_MONTH_NAMES})\.?\s+(\d{{1,2}}){_ORDINAL}(?:,?\s+(\d{{4}}))?(?!\d)", re.IGNORECASE
)
_DAY_MONTH = re.compile(
    rf"(?<!\d)(\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?({_MONTH_NAMES})\b\.?(?:,?\s+(\d{{4}}))?",
    re.IGNORECASE,
)
_ZH_NUM = rf"(?:\d{{1,2}}|[{NUMERAL_CHARS}]{{1,3}})"
_ZH_DATE = re.compile(rf"(?:(\d{{4}})年)?({_ZH_NUM})月({_ZH_NUM})[日号號]")
_RELATIVE = re.compile(
    "|".join(
        rf"\b{re.escape(k)}\b" if k.isascii() else re.escape(k)
        for k in sorted(_RELATIVE_DAYS, key=len, reverse=True)
    ),
    re.IGNORECASE,
)
_WEEKDAY = re.compile(
    rf"\b(last|next|this|on)\s+({'|'.join(_WEEKDAYS)})\b", re.IGNORECASE
)
_DAYS_AGO = re.compile(rf"\b(\d{{1,2}})\s+days?\s+ago\b|(?<!\d)({_ZH_NUM})\s*天前", re.IGNORECASE)


def find_dates(text: str, today: date) -> list[DateMatch]:
    """Return every date expression in ``text`` resolved against ``today``.

    Matches may overlap; the entity extractor picks among them. Impossible
    calendar dates ("February 30") are skipped rather than guessed.
    """
    return list(_iter_dates(text, today))


def _iter_dates(text: str, today: date) -> Iterator[DateMatch]:
    for match in _ISO.finditer(text):
        yield from _calendar(match, match.group(1), match.group(2), match.group(3), today)
    for match in _MONTH_DAY.finditer(text):
        month = str(_MONTHS[match.group(1).lower()])
        yield from _calendar(match, match.group(3), month, match.group(2), today)
    for match in _DAY_MONTH.finditer(text):
        month = str(_MONTHS[match.group(2).lower()])
        yield from _calendar(match, match.group(3), month, match.group(1), today)
    for match in _ZH_DATE.finditer(text):
        yield from _calendar(match, match.group(1), match.group(2), match.group(3), today)
    for match in _RELATIVE.finditer(text):
        offset = _RELATIVE_DAYS[match.group(0).lower()]
        yield DateMatch(match.start(), match.end(), today + timedelta(days=offset))
    for match in _WEEKDAY.finditer(text):
        yield DateMatch(match.start(), match.end(), _weekday(match, today))
    for match in _DAYS_AGO.finditer(text):
        days = _number(match.group(1) or match.group(2))
        yield DateMatch(match.start(), match.end(), today - timedelta(days=days))


def _calendar(
    match: re.Match[str], year: str | None, month: str, day: str, today: date
) -> Iterator[DateMatch]:
    try:
        value = date(
            int(year) if year else today.year, _number(month), _number(day)
        )
    except ValueError:
        return
    yield DateMatch(match.start(), match.end(), value)


def _number(token: str) -> int:
    return int(token) if token.isdigit() else parse_chinese_number(token)


def _weekday(match: re.Match[str], today: date) -> date:
    """Resolve "last/next/this/on <weekday>"; bare "on" means the most recent."""
    qualifier = match.group(1).lower()
    target = _WEEKDAYS[match.group(2).lower()]
    delta = target - today.weekday()
    if qualifier == "next":
        return today + timedelta(days=delta % 7 or 7)
    if qualifier == "this":
        return today + timedelta(days=delta)
    return today - timedelta(days=(-delta) % 7 or 7)
