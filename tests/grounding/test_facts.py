"""Fact extraction and normalization, in English and Chinese."""

from __future__ import annotations

import pytest

from core.facts import FactKind, extract_facts, normalize


def values(text: str) -> list[tuple[str, str]]:
    return [(str(f.kind), f.value) for f in extract_facts(text)]


@pytest.mark.parametrize(
    "text",
    ["+1 800 555 0199", "1-800-555-0199", "+1 (800) 555-0199", "1.800.555.0199", "＋１ ８００ ５５５ ０１９９"],
)
def test_phone_formats_normalize_to_the_same_digits(text: str) -> None:
    assert values(text) == [("phone", "18005550199")]


@pytest.mark.parametrize("text", ["5–7 business days", "5-7 business days", "5 to 7 working days", "five to seven business days",
                                  "5—7 个工作日", "五到七个工作日", "５～７个工作日"])
def test_ranges_with_any_dash_or_word_are_one_duration(text: str) -> None:
    assert values(text) == [("duration", "5-7 business day")]


@pytest.mark.parametrize("text", ["20 USD", "$20", "US$20", "20 美元", "20 dollars", "２０美元", "$20.00"])
def test_currencies_normalize_to_code_and_amount(text: str) -> None:
    assert values(text) == [("money", "USD 20")]


def test_yuan_is_not_dollars_and_thousands_separators_go() -> None:
    assert values("两千五百元") == [("money", "CNY 2500")]
    assert values("1,500 美元") == [("money", "USD 1500")]


@pytest.mark.parametrize("text", ["2.5%", "２．５％", "2.5 percent", "2.5 per cent"])
def test_percentages(text: str) -> None:
    assert values(text) == [("percent", "2.5")]


def test_chinese_percent_and_numerals() -> None:
    assert values("百分之三") == [("percent", "3")]
    assert values("三天") == [("duration", "3 day")]
    assert values("二十四小时") == [("duration", "24 hour")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("9:00–17:00", ["09:00", "17:00"]), ("9am to 5pm", ["09:00", "17:00"]), ("下午3点", ["15:00"]), ("9点半", ["09:30"])],
)
def test_times(text: str, expected: list[str]) -> None:
    assert [f.value for f in extract_facts(text) if f.kind is FactKind.TIME] == expected


@pytest.mark.parametrize("text", ["March 5", "5th of March", "3月5日", "2026-03-05"])
def test_dates(text: str) -> None:
    assert values(text) == [("date", "03-05")]


def test_urls_emails_and_card_like_numbers() -> None:
    text = "See https://www.AcmeBank.example/help/ or write to Help@acmebank.example; card 4111111111111111."
    assert values(text) == [
        ("email", "help@acmebank.example"),
        ("url", "acmebank.example/help"),
        ("account", "4111111111111111"),
    ]


def test_list_markers_are_not_facts_but_other_numbers_are() -> None:
    assert values("1. Open the app\n2. Tap Cards") == []
    assert values("open 24/7") == [("number", "24"), ("number", "7")]


def test_normalize_folds_full_width_and_dashes() -> None:
    assert normalize("５–７") == "5-7"
