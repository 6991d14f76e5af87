"""The grounding check against the sample bot's own knowledge articles."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.grounding import Evidence, check

KNOWLEDGE = Path(__file__).resolve().parents[2] / "bots" / "acme_bank" / "knowledge"


@pytest.fixture(scope="module")
def lost_card() -> Evidence:
    return Evidence.of(p.read_text(encoding="utf-8") for p in KNOWLEDGE.glob("lost-stolen-card.*.md"))


@pytest.mark.parametrize(
    ("answer", "claim"),
    [
        ("Call our lost card hotline on +1 341 222 222.", "+1 341 222 222"),
        ("Express delivery costs 25 USD.", "25 USD"),
        ("The new one will take 2–3 business days to arrive.", "2-3 business days"),
        ("新卡 10 个工作日内送达。", "10 个工作日"),
        ("加急寄送收费 20 元。", "20 元"),
        ("Write to cards@acmebank.example.", "cards@acmebank.example"),
    ],
)
def test_invented_phone_fee_duration_and_address_are_caught(lost_card: Evidence, answer: str, claim: str) -> None:
    report = check(answer, lost_card)
    assert not report.grounded
    assert report.claims == (claim,)


@pytest.mark.parametrize(
    "answer",
    [
        "Call 1-800-555-0199 (abroad: +1 (212) 555-0199). A new card arrives in 5 to 7 days; express is $20 and takes two business days.",
        "Freeze it in the app, or phone 800.555.0199 any time, 24/7.",
        "请拨打 400 555 0199。新卡五到七个工作日送达，加急２０美元。",
        "Freeze your card in the app; a replacement is free.",
    ],
)
def test_correct_answers_with_reformatted_numbers_pass(lost_card: Evidence, answer: str) -> None:
    report = check(answer, lost_card)
    assert report.grounded, report.claims


def test_the_customer_and_history_count_as_sources() -> None:
    evidence = Evidence.of(["A refund takes 5–10 business days.", "I was charged $35 twice on May 3"])
    assert check("The $35 charge from May 3 should be refunded within 10 business days.", evidence).grounded
    assert check("The $36 charge should be refunded.", evidence).claims == ("$36",)


def test_counts_every_fact_checked(lost_card: Evidence) -> None:
    report = check("Call +1 800 555 0199; it takes 5–7 business days.", lost_card)
    assert (report.checked, report.grounded) == (2, True)
