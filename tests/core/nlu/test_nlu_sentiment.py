from __future__ import annotations

import pytest

from core.nlu.sentiment import LABEL_THRESHOLD, analyze_sentiment


@pytest.mark.parametrize(
    "text",
    [
        "this is ridiculous, I'm furious",
        "太差了，气死我了",
        "垃圾银行",
        "This is the worst bank ever!!!",
        "你们这破银行什么服务",
        "I am absolutely sick and tired of this useless app",
    ],
)
def test_clearly_angry_customers_are_strongly_negative(text: str) -> None:
    result = analyze_sentiment(text)
    assert result.label == "negative"
    assert result.strongly_negative
    assert -1.0 <= result.score <= -0.6


@pytest.mark.parametrize(
    "text",
    [
        "I want to check my balance",
        "my card was stolen",
        "Can you please help me transfer 100 EUR?",
        "我的卡丢了",
        "请帮我查一下余额",
        "麻烦您帮我查一下转账记录",
        "不好意思，我想问一下汇率",
        "How do I change my PIN?",
    ],
)
def test_neutral_requests_are_neutral(text: str) -> None:
    result = analyze_sentiment(text)
    assert result.label == "neutral"
    assert abs(result.score) < LABEL_THRESHOLD


@pytest.mark.parametrize("text", ["Thanks a lot, great help!", "谢谢，非常满意", "You guys are awesome"])
def test_praise_is_positive(text: str) -> None:
    assert analyze_sentiment(text).label == "positive"


def test_negation_flips_polarity() -> None:
    assert analyze_sentiment("I am happy with the service").label == "positive"
    assert analyze_sentiment("I am not happy with the service").label == "negative"
    assert analyze_sentiment("not bad at all").score > 0


def test_intensifiers_and_emphasis_strengthen_the_score() -> None:
    plain = analyze_sentiment("this is bad").score
    boosted = analyze_sentiment("this is really bad").score
    shouted = analyze_sentiment("this is really BAD!!!").score
    assert plain < 0
    assert boosted < plain
    assert shouted < boosted


def test_shouting_and_exasperated_punctuation_read_as_negative() -> None:
    assert analyze_sentiment("WHERE IS MY MONEY").label == "negative"
    assert analyze_sentiment("where is my money?!").label == "negative"
    assert analyze_sentiment("为什么还没到账？！").label == "negative"
    assert analyze_sentiment("where is my money").label == "neutral"


def test_chinese_negation_and_boosters() -> None:
    assert analyze_sentiment("服务很满意").label == "positive"
    assert analyze_sentiment("服务不满意").label == "negative"
    assert analyze_sentiment("非常失望").score < analyze_sentiment("失望").score


def test_score_is_bounded() -> None:
    text = "terrible awful horrible worst useless pathetic!!!!!!! 垃圾 气死我了 " * 5
    assert -1.0 <= analyze_sentiment(text).score < -0.95
