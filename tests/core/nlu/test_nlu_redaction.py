from __future__ import annotations

import random
import re

import pytest

from core.nlu.checksums import luhn_valid
from core.nlu.redaction import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 was charged 120 EUR", "card [CARD] was charged 120 EUR"),
        ("我的卡号是4111111111111111，手机13800138000", "我的卡号是[CARD]，手机[PHONE]"),
        ("email me at john@example.com, card ending 1234", "email me at [EMAIL], card ending [CARD_LAST4]"),
        ("my account number is 12345678", "my account number is [ACCOUNT]"),
        ("IBAN GB82 WEST 1234 5698 7654 32 please", "IBAN [ACCOUNT] please"),
        ("尾号1234的卡昨天被盗刷了500元", "尾号[CARD_LAST4]的卡昨天被盗刷了500元"),
        ("call +44 20 7946 0958 tomorrow", "call [PHONE] tomorrow"),
    ],
)
def test_personal_data_becomes_placeholders(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_order_numbers_amounts_and_dates_are_kept() -> None:
    text = "order #A12345 for $20 on 2026-03-05"
    assert redact(text) == text


def _random_card(rng: random.Random, length: int) -> str:
    while True:
        digits = "".join(rng.choice("0123456789") for _ in range(length))
        if digits[0] != "0" and luhn_valid(digits):
            return digits


def _spaced(digits: str, separator: str) -> str:
    return separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))


TEMPLATES = (
    "my card {} was charged twice",
    "卡号{}被盗刷了",
    "account number {}",
    "order number {}",
    "tracking {}",
    "please refund to {} asap",
    "{}",
)


def test_card_numbers_never_survive_redaction() -> None:
    rng = random.Random(7)
    for _ in range(300):
        card = _random_card(rng, rng.choice([13, 15, 16, 19]))
        shown = rng.choice([card, _spaced(card, " "), _spaced(card, "-")])
        redacted = redact(rng.choice(TEMPLATES).format(shown))
        assert card not in re.sub(r"\D", "", redacted), redacted
        assert "[CARD]" in redacted or "[ACCOUNT]" in redacted


def test_mistyped_card_numbers_are_still_hidden() -> None:
    assert redact("my card 4111 1111 1111 1112 typo") == "my card [CARD] typo"
    assert redact("number 123456789 please") == "number [NUMBER] please"
