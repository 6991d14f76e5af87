from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.nlu.entities import Entity, extract_entities
from core.nlu.money import Money

TODAY = date(2026, 3, 10)


def kinds_and_values(text: str) -> list[tuple[str, object]]:
    return [(e.kind, e.value) for e in extract_entities(text, today=TODAY)]


def test_spans_point_into_the_original_text() -> None:
    text = "我的卡尾号１２３４，昨天转了１００元"
    entities = extract_entities(text, today=TODAY)
    assert [e.kind for e in entities] == ["card_last4", "date", "amount"]
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text
    assert entities[0].value == "1234"
    assert entities[2].value == Money(Decimal("100"), "CNY")


@pytest.mark.parametrize(
    ("text", "money"),
    [
        ("I paid $120.50 at the shop", Money(Decimal("120.50"), "USD")),
        ("they charged me 120 EUR", Money(Decimal("120"), "EUR")),
        ("转了100元", Money(Decimal("100"), "CNY")),
        ("扣了￥500", Money(Decimal("500"), "CNY")),
        ("我转了五百元", Money(Decimal("500"), "CNY")),
        ("a fee of 1,200.00 dollars", Money(Decimal("1200.00"), "USD")),
        ("存了5万元", Money(Decimal("50000"), "CNY")),
        ("GBP 20 please", Money(Decimal("20"), "GBP")),
    ],
)
def test_amounts_with_currency(text: str, money: Money) -> None:
    assert ("amount", money) in kinds_and_values(text)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("can I do it tomorrow", date(2026, 3, 11)),
        ("on 2026-03-05 I paid", date(2026, 3, 5)),
        ("the payment on March 5 failed", date(2026, 3, 5)),
        ("on 5th March, 2025", date(2025, 3, 5)),
        ("3月5日的交易", date(2026, 3, 5)),
        ("三月五日的交易", date(2026, 3, 5)),
        ("昨天的转账", date(2026, 3, 9)),
        ("last friday", date(2026, 3, 6)),
        ("3 days ago", date(2026, 3, 7)),
    ],
)
def test_dates_resolve_against_today(text: str, day: date) -> None:
    assert ("date", day) in kinds_and_values(text)


def test_impossible_dates_are_ignored() -> None:
    assert kinds_and_values("on Feb 30 I paid") == []


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("my card ending 1234 was declined", "1234"),
        ("card ending in 9876", "9876"),
        ("the last four digits are 4321", "4321"),
        ("卡尾号是5678", "5678"),
        ("后四位为8765的卡", "8765"),
    ],
)
def test_card_last_four(text: str, digits: str) -> None:
    assert ("card_last4", digits) in kinds_and_values(text)


@pytest.mark.parametrize(
    "text",
    ["card 4111 1111 1111 1111 was charged", "卡号4111-1111-1111-1111", "number 5500000000000004"],
)
def test_full_card_numbers_pass_luhn(text: str) -> None:
    found = kinds_and_values(text)
    assert [kind for kind, _ in found] == ["card_number"]
    assert found[0][1] in {"4111111111111111", "5500000000000004"}


def test_luhn_invalid_digits_are_not_card_numbers() -> None:
    assert "card_number" not in [kind for kind, _ in kinds_and_values("ref 4111 1111 1111 1112")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("call me on +44 20 7946 0958", "+442079460958"),
        ("我的手机13800138000", "13800138000"),
        ("手机 +86 138 0013 8000", "+8613800138000"),
        ("my phone is (555) 123-4567", "5551234567"),
    ],
)
def test_phone_numbers(text: str, value: str) -> None:
    assert kinds_and_values(text) == [("phone", value)]


def test_identifiers_after_keywords() -> None:
    found = kinds_and_values(
        "email John.Doe@Example.com about account number 12345678, "
        "order #A12345 and tracking number 1Z999AA10123456784"
    )
    assert found == [
        ("email", "john.doe@example.com"),
        ("account_number", "12345678"),
        ("order_number", "A12345"),
        ("tracking_number", "1Z999AA10123456784"),
    ]


def test_chinese_account_and_order_numbers() -> None:
    found = kinds_and_values("账号是6222020200112233，订单号：DD20260301")
    assert ("account_number", "6222020200112233") in found
    assert ("order_number", "DD20260301") in found


def test_iban_is_checked() -> None:
    assert kinds_and_values("IBAN GB82 WEST 1234 5698 7654 32") == [("iban", "GB82WEST12345698765432")]
    assert "iban" not in [k for k, _ in kinds_and_values("IBAN GB82 WEST 1234 5698 7654 33")]


def test_entities_are_immutable_values() -> None:
    entity = extract_entities("card ending 1234", today=TODAY)[0]
    assert entity == Entity("card_last4", "1234", 12, 16, "1234")
    with pytest.raises(AttributeError):
        entity.text = "0000"  # type: ignore[misc]


def test_plain_text_has_no_entities() -> None:
    assert extract_entities("How do I change my PIN?", today=TODAY) == ()
