"""Checkable facts in a text: phone numbers, amounts, percentages, durations, dates, times, URLs,
e-mail addresses, card/account-like numbers, and any other bare number.

A customer is hurt by a wrong number far more than by a clumsy sentence, so these are what the
grounding check compares between a generated answer and its sources. Each fact carries a
normalized value that is the same however it was written: "+1 800 555 0199" and "1-800-555-0199",
"5–7" and "5 to 7", "20 USD", "$20" and "20 美元", "五天" and "5 days", full-width "２０％" and "20%".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from core.nlu.chinese_numerals import NUMERAL_CHARS, parse_chinese_number


class FactKind(StrEnum):
    URL = "url"
    EMAIL = "email"
    PHONE = "phone"
    ACCOUNT = "account"  # card/account-like digit strings without a phone's shape
    MONEY = "money"
    PERCENT = "percent"
    DURATION = "duration"
    DATE = "date"
    TIME = "time"
    NUMBER = "number"  # any other number: cheap to check, and inventions hide there too


@dataclass(frozen=True, slots=True)
class Fact:
    """One fact as written (`text`) and normalized (`value`); `numbers` are the quantities in it
    ("5-7 day" has 5 and 7), so an answer's "7 days" can be matched against a source's range."""

    kind: FactKind
    value: str
    text: str
    numbers: tuple[str, ...] = ()


# --- normalization ------------------------------------------------------------------------------

_DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe58\ufe63\uff0d~〜～]")
_CN_UNIT_AFTER = (
    "个工作日|个营业日|工作日|个小时|小时|分钟|天|日|周|星期|个月|月|年|元|块|美元|欧元|英镑|人民币|号|点|次|笔|岁|%"
)
_CN_NUMERAL = re.compile(
    rf"百分之([{NUMERAL_CHARS}]+)|([{NUMERAL_CHARS}]+)(?=(?:[到至或-][{NUMERAL_CHARS}]+)?(?:{_CN_UNIT_AFTER}))"
)
_EN_WORDS: Final = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100,
}
_EN_UNIT = r"(?:business |working |calendar )?(?:days?|hours?|minutes?|weeks?|months?|years?|dollars?|percent)"
_EN_WORD = "|".join(_EN_WORDS)
_EN_NUMBER = re.compile(rf"\b({_EN_WORD})\b(?=(?:\s*(?:-|to|or)\s*(?:{_EN_WORD}))?\s+{_EN_UNIT}\b)", re.IGNORECASE)


def _chinese_to_digits(match: re.Match[str]) -> str:
    numeral = match.group(1) or match.group(2)
    try:
        value = parse_chinese_number(numeral)
    except ValueError:
        return match.group(0)
    return f"{value}%" if match.group(1) else str(value)


def normalize(text: str) -> str:
    """One spelling for what can be written many ways: NFKC (full-width digits and signs to
    ASCII), every dash to "-", Chinese and English number words before a unit to digits."""
    text = unicodedata.normalize("NFKC", text)
    text = _DASHES.sub("-", text)
    text = _CN_NUMERAL.sub(_chinese_to_digits, text)
    return _EN_NUMBER.sub(lambda m: str(_EN_WORDS[m.group(1).lower()]), text)


# --- patterns, most specific first; each match is blanked out before the next runs ---------------

_NUM = r"\d[\d,]*(?:\.\d+)?"
_RANGE_SEP = r"\s*(?:-|to|or|至|到|或)\s*"
_QTY = rf"{_NUM}(?:{_RANGE_SEP}{_NUM})?"

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\"'，。）]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|example|io|cn)(?:/[^\s<>()\"'，。）]*)?", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<![\w.])(?:\+\s?)?\(?\d{1,4}\)?(?:[\s.-]\(?\d{2,4}\)?){2,5}(?![\w])")
_LONG_DIGITS = re.compile(r"(?<![\w.])\d{7,}(?![\w])")
_CURRENCY_BEFORE = {"$": "USD", "US$": "USD", "USD": "USD", "€": "EUR", "EUR": "EUR", "£": "GBP", "GBP": "GBP",
                    "¥": "CNY", "RMB": "CNY", "CNY": "CNY"}
_CURRENCY_AFTER = {"usd": "USD", "dollars": "USD", "dollar": "USD", "美元": "USD", "美金": "USD", "eur": "EUR",
                   "euros": "EUR", "euro": "EUR", "欧元": "EUR", "gbp": "GBP", "pounds": "GBP", "英镑": "GBP",
                   "cny": "CNY", "rmb": "CNY", "yuan": "CNY", "元": "CNY", "块": "CNY", "人民币": "CNY"}
_MONEY_BEFORE = re.compile(r"(US\$|\$|€|£|¥|USD|EUR|GBP|RMB|CNY)\s?(" + _QTY + r")", re.IGNORECASE)
_MONEY_AFTER = re.compile(
    rf"({_QTY})\s?(usd|dollars?|eur|euros?|gbp|pounds|cny|rmb|yuan|美元|美金|欧元|英镑|人民币|元|块)(?![a-z])", re.IGNORECASE
)
_PERCENT = re.compile(rf"({_QTY})\s?(?:%|percent\b|per cent\b)", re.IGNORECASE)
_TIME = re.compile(
    r"(?<![\d:])(\d{1,2})(?::(\d{2}))?\s?(am|pm|a\.m\.|p\.m\.)(?![a-z])|(?<![\d:])(\d{1,2}):(\d{2})(?![\d:])|(下午|晚上)?(\d{1,2})\s?点(?:(\d{1,2})分?|半)?",
    re.IGNORECASE,
)
_MONTHS: Final = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    rf"(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})|(?:(\d{{4}})年)?(\d{{1,2}})月(\d{{1,2}})[日号]"
    rf"|\b{_MONTH}\s(\d{{1,2}})(?:st|nd|rd|th)?\b|\b(\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?{_MONTH}",
    re.IGNORECASE,
)
_DURATION_UNITS: Final = (
    ("business day", r"business days?|working days?|banking days?|个工作日|工作日|个营业日"),
    ("day", r"days?|天|日"),
    ("hour", r"hours?|hrs?|个小时|小时"),
    ("minute", r"minutes?|mins?|分钟"),
    ("week", r"weeks?|周|星期|个星期"),
    ("month", r"months?|个月"),
    ("year", r"years?|年"),
)
_DURATION = re.compile(
    rf"({_QTY})\s?-?(" + "|".join(alt for _, alt in _DURATION_UNITS) + r")(?![a-z])", re.IGNORECASE
)
_BARE = re.compile(rf"(?<![\w.]){_NUM}(?![\w])")
_LIST_MARKER = re.compile(r"(?m)^\s*\d{1,2}[.)、]\s")


def _number(text: str) -> str:
    """"1,500.00" → "1500": one spelling per quantity."""
    value = text.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value or "0"


def _quantities(text: str) -> tuple[str, ...]:
    return tuple(_number(n) for n in re.findall(_NUM, text))


def _range(text: str) -> str:
    return "-".join(_quantities(text))


def _unit(word: str) -> str:
    for unit, alternatives in _DURATION_UNITS:
        if re.fullmatch(alternatives, word, re.IGNORECASE):
            return unit
    return word.lower()


def _time_value(match: re.Match[str]) -> str:
    hour_12, minute_12, meridiem, hour_24, minute_24, afternoon, hour_cn, minute_cn = match.groups()
    if meridiem:
        hour = int(hour_12) % 12 + (12 if meridiem.lower().startswith("p") else 0)
        minute = int(minute_12 or 0)
    elif hour_24:
        hour, minute = int(hour_24), int(minute_24)
    else:
        hour = int(hour_cn) + (12 if afternoon and int(hour_cn) < 12 else 0)
        minute = 30 if match.group(0).endswith("半") else int(minute_cn or 0)
    return f"{hour:02d}:{minute:02d}"


def _date_value(match: re.Match[str]) -> str:
    g = match.groups()
    if g[0]:
        return f"{int(g[1]):02d}-{int(g[2]):02d}"
    if g[4]:
        return f"{int(g[4]):02d}-{int(g[5]):02d}"
    if g[6]:
        return f"{_MONTHS[g[6][:3].lower()]:02d}-{int(g[7]):02d}"
    return f"{_MONTHS[g[9][:3].lower()]:02d}-{int(g[8]):02d}"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _url_value(text: str) -> str:
    value = re.sub(r"^(?:https?://)?(?:www\.)?", "", text.lower())
    return value.rstrip("/.,;:!?")


class _Extraction:
    """Runs the patterns over a working copy, blanking each match so a phone's digits are not
    found again as bare numbers."""

    def __init__(self, text: str) -> None:
        self.work = text
        self.facts: list[Fact] = []

    def take(self, pattern: re.Pattern[str], make: Callable[[re.Match[str]], Fact | None]) -> None:
        def blank(match: re.Match[str]) -> str:
            fact = make(match)
            if fact is None:
                return match.group(0)
            self.facts.append(fact)
            return " " * len(match.group(0))

        self.work = pattern.sub(blank, self.work)


def _phone(match: re.Match[str]) -> Fact | None:
    text = match.group(0).strip()
    digits = _digits(text)
    if not 7 <= len(digits) <= 15:
        return None
    return Fact(FactKind.PHONE, digits, text, (digits,))


def _money(currency: str, amount: str, text: str) -> Fact:
    return Fact(FactKind.MONEY, f"{currency} {_range(amount)}", text, _quantities(amount))


def extract_facts(text: str) -> tuple[Fact, ...]:
    """Every checkable fact in `text`, most specific kind first. List markers ("1. ") are not facts."""
    run = _Extraction(_LIST_MARKER.sub(lambda m: " " * len(m.group(0)), normalize(text)))
    run.take(_EMAIL, lambda m: Fact(FactKind.EMAIL, m.group(0).lower(), m.group(0)))
    run.take(_URL, lambda m: Fact(FactKind.URL, _url_value(m.group(0)), m.group(0)))
    run.take(_MONEY_BEFORE, lambda m: _money(_CURRENCY_BEFORE[m.group(1).upper()], m.group(2), m.group(0)))
    run.take(_MONEY_AFTER, lambda m: _money(_CURRENCY_AFTER[m.group(2).lower()], m.group(1), m.group(0)))
    run.take(_PERCENT, lambda m: Fact(FactKind.PERCENT, _range(m.group(1)), m.group(0), _quantities(m.group(1))))
    run.take(_DATE, lambda m: Fact(FactKind.DATE, _date_value(m), m.group(0)))
    run.take(_TIME, lambda m: Fact(FactKind.TIME, _time_value(m), m.group(0)))
    run.take(_PHONE, _phone)
    run.take(_LONG_DIGITS, lambda m: Fact(FactKind.ACCOUNT, m.group(0), m.group(0), (m.group(0),)))
    run.take(
        _DURATION,
        lambda m: Fact(FactKind.DURATION, f"{_range(m.group(1))} {_unit(m.group(2))}", m.group(0), _quantities(m.group(1))),
    )
    run.take(_BARE, lambda m: Fact(FactKind.NUMBER, _number(m.group(0)), m.group(0), (_number(m.group(0)),)))
    return tuple(run.facts)
