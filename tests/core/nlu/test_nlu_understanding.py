from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from core.nlu.intents import IntentModel
from core.nlu.understanding import UNKNOWN_INTENT, NluPipeline, Understanding

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def model() -> IntentModel:
    with (FIXTURES / "tiny_train.csv").open(encoding="utf-8", newline="") as handle:
        return IntentModel.train([(r["text"], r["category"]) for r in csv.DictReader(handle)])


def test_pipeline_without_model_still_reads_the_message() -> None:
    text = "垃圾银行！我的卡尾号1234昨天被扣了500元"
    result = NluPipeline(None, 0.5).analyze(text, today=date(2026, 3, 10))
    assert isinstance(result, Understanding)
    assert (result.intent, result.intent_confidence, result.out_of_scope) == (UNKNOWN_INTENT, 0.0, True)
    assert result.language == "zh"
    assert result.sentiment == "negative"
    assert result.sentiment_score <= -0.6
    assert [e.kind for e in result.entities] == ["card_last4", "date", "amount"]


def test_pipeline_with_model_combines_all_readings(model: IntentModel) -> None:
    result = NluPipeline(model, 0.0).analyze("Thanks! When will my new card arrive? I ordered it on March 1")
    assert result.intent == "card_arrival"
    assert 0.0 < result.intent_confidence <= 1.0
    assert not result.out_of_scope
    assert result.sentiment == "positive"
    assert result.language == "en"
    assert [e.kind for e in result.entities] == ["date"]


def test_threshold_override_marks_low_confidence_out_of_scope(model: IntentModel) -> None:
    assert NluPipeline(model, 1.01).analyze("where is my card").out_of_scope
    assert NluPipeline(model, None).oos_threshold == model.threshold
    assert NluPipeline(model, 0.7).oos_threshold == 0.7


def test_understanding_is_immutable() -> None:
    result = NluPipeline(None, 0.5).analyze("hello")
    with pytest.raises(AttributeError):
        result.intent = "other"  # type: ignore[misc]
