from __future__ import annotations

import pytest

from core.nlu.chinese_numerals import ChineseNumeralError, parse_chinese_number


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("五", 5), ("十", 10), ("十五", 15), ("二十", 20), ("一百二十三", 123), ("五百", 500),
     ("三百零五", 305), ("两千五", 2500), ("一千零五", 1005), ("三万二", 32000),
     ("一万零五十", 10050), ("两万五千", 25000), ("一亿", 100_000_000)],
)
def test_parses_formal_and_colloquial_numerals(numeral: str, value: int) -> None:
    assert parse_chinese_number(numeral) == value


@pytest.mark.parametrize("numeral", ["", "五a", "hello"])
def test_rejects_non_numerals(numeral: str) -> None:
    with pytest.raises(ChineseNumeralError):
        parse_chinese_number(numeral)
