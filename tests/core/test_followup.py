"""Which messages lean on the previous one, and which of those ask about it."""

from __future__ import annotations

import pytest

from core.followup import asks_about_previous, earlier_messages
from core.records import Role, Turn


@pytest.mark.parametrize(
    ("text", "asks"),
    [("为什么会这样？", True), ("how long does that take?", True), ("is it free?", True), ("还能追回来吗？", True),
     ("that's great", False), ("ok that's it thanks", False), ("好的，就这样吧", False), ("when are you open on Sunday", False)],
)
def test_a_question_pointing_back_is_told_from_a_social_remark(text: str, asks: bool) -> None:
    assert asks_about_previous(text) is asks


def test_the_previous_message_counts_only_in_the_same_script() -> None:
    history = [Turn(Role.CUSTOMER, "我的卡丢了"), Turn(Role.BOT, "请冻结您的卡。")]
    assert earlier_messages("when are you open?", history)[:1] == []
    assert earlier_messages("多久能补好？", history)[:1] == ["我的卡丢了"]


def test_small_talk_in_between_is_not_the_topic_a_follow_up_leans_on() -> None:
    history = [Turn(Role.CUSTOMER, "I lost my card"), Turn(Role.BOT, "Freeze it in the app."),
               Turn(Role.CUSTOMER, "ok thanks!"), Turn(Role.BOT, "You're welcome!")]
    assert earlier_messages("how long will the new one take?", history)[:1] == ["I lost my card"]
    chinese = [Turn(Role.CUSTOMER, "我想汇款到国外"), Turn(Role.CUSTOMER, "好的，明白了")]
    assert earlier_messages("手续费多少？", chinese)[:1] == ["我想汇款到国外"]
    assert earlier_messages("and the fee?", [Turn(Role.CUSTOMER, "hi"), Turn(Role.CUSTOMER, "thanks")])[:1] == []


def test_a_chain_reaches_back_two_questions_and_stops_at_another_script() -> None:
    history = [Turn(Role.CUSTOMER, "我的卡丢了"), Turn(Role.CUSTOMER, "I sent rent to my landlord"), Turn(Role.BOT, "…"),
               Turn(Role.CUSTOMER, "thanks"), Turn(Role.CUSTOMER, "he says it hasn't come in")]
    assert earlier_messages("what now?", history) == ["he says it hasn't come in", "I sent rent to my landlord"]
    assert earlier_messages("what now?", history, limit=1) == ["he says it hasn't come in"]
    assert earlier_messages("怎么办？", history) == []
