"""Parsing of Chinese numerals ("五百", "两千五", "一万零五十") into integers.

Customers write amounts and dates with Chinese numerals ("转了五百元",
"三月五日"); the entity extractor needs their integer value.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final
from collections.abc import Mapping

DIGITS: Final[Mapping[str, int]] = MappingProxyType(
    {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
     "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
)
SMALL_UNITS: Final[Mapping[str, int]] = MappingProxyType({"十": 10, "百": 100, "千": 1000})
LARGE_UNITS: Final[Mapping[str, int]] = MappingProxyType({"万": 10_000, "亿": 100_000_000})
NUMERAL_CHARS: Final = "".join([*DIGITS, *SMALL_UNITS, *LARGE_UNITS])


class ChineseNumeralError(ValueError):
    """The string is not a well-formed Chinese numeral."""


def parse_chinese_number(numeral: str) -> int:
    """Return the integer value of ``numeral``.

    Supports the colloquial elided form where a trailing digit takes the
    unit below the previous one ("两千五" is 2500, "三万二" is 32000).
    """
    if not numeral or any(char not in NUMERAL_CHARS for char in numeral):
        raise ChineseNumeralError(f"not a Chinese numeral: {numeral!r}")
    total = 0
    section = 0
    digit: int | None = None
    last_unit = 1
    for char in numeral:
        if char in DIGITS:
            digit = DIGITS[char]
            continue
        if char in SMALL_UNITS:
            last_unit = SMALL_UNITS[char]
            section += (1 if digit is None else digit) * last_unit
        else:
            last_unit = LARGE_UNITS[char]
            total += (section + (digit or 0)) * last_unit
            section = 0
        digit = None
    if digit is not None:
        section += _trailing_digit_value(numeral, digit, last_unit)
    return total + section


def _trailing_digit_value(numeral: str, digit: int, last_unit: int) -> int:
    """Value of a final bare digit: elided unit unless written after 零."""
    follows_unit = len(numeral) >= 2 and numeral[-2] not in DIGITS
    if follows_unit and last_unit >= 100 and "零" not in numeral[-2:]:
        return digit * (last_unit // 10)
    if follows_unit and last_unit >= 10_000:
        return digit * (last_unit // 10)
    return digit
