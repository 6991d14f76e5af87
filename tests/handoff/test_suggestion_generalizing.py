"""How an agent's answer and the customer's question are generalized before they are suggested as
knowledge: no customer name, no personal data, no internal notes, no "agent please"."""

from __future__ import annotations

import pytest

from core.knowledge_suggestions import (
    HandoffExchange,
    draft,
    generalize_answer,
    generalize_question,
    preview,
    remove_name,
)

TRIGGERS = ("human", "agent", "real person", "operator", "speak to someone", "人工", "转人工", "真人", "客服")


# --- the customer's name -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("Hi Ana, Sam here.", "Ana Lima", "Hi, Sam here."),
        ("Thanks, Ana!", "Ana Lima", "Thanks!"),
        ("Dear Ana Lima, your card is on its way.", "Ana Lima", "Dear, your card is on its way."),
        ("Ana, your card is on its way.", "Ana Lima", "Your card is on its way."),
        ("Ms Lima, it is done.", "Ana Lima", "Ms, it is done."),
        ("ANA LIMA: order confirmed", "Ana Lima", "Order confirmed"),
        ("We will send it today, Will.", "Will Smith", "We will send it today."),  # "will" is not the name
        ("Hi, my name is ana lima and I lost my card", "Ana Lima", "Hi, and I lost my card"),
        ("Banana bread is not a name", "Ana Lima", "Banana bread is not a name"),  # whole words only
        ("J. Smith here", "J. Smith", "Here"),
        ("王先生您好，您的卡已经冻结。", "王小明", "您好，您的卡已经冻结。"),
        ("小明，您好！请在App里提高限额。", "王小明", "您好！请在App里提高限额。"),
        ("您的行李已送达，王小明先生。", "王小明", "您的行李已送达。"),  # 李 in 行李 is no surname
        ("我是王小明，我的卡丢了", "王小明", "我的卡丢了"),
        ("李先生，行李已经寄出。", "小红 李", "行李已经寄出。"),  # given name and surname in two fields
        ("Your chat id 987654321 is linked", "", "Your chat id is linked"),
    ],
)
def test_the_customers_name_is_removed_and_the_text_stays_readable(text: str, name: str, expected: str) -> None:
    assert remove_name(text, name, customer_id="987654321") == expected


def test_without_a_name_the_text_is_left_alone() -> None:
    assert remove_name("Hi there, Sam here.", "") == "Hi there, Sam here."


# --- the agent's answer --------------------------------------------------------------------------


def test_an_answer_loses_notes_name_and_personal_data_in_english() -> None:
    answer = generalize_answer(
        [
            "Hi Ana, Sam here. I've frozen card 4111 1111 1111 1111 for you.\nnote: she sounded upset",
            "NOTE: ring back tomorrow",
            "Call us on +44 20 7946 0958 or write to ana.lima@example.com, Ana. The new card costs 5 EUR.",
        ],
        name="Ana Lima",
    )
    assert answer == (
        "Hi, Sam here. I've frozen card [CARD] for you.\n\n"
        "Call us on [PHONE] or write to [EMAIL]. The new card costs 5 EUR."  # an amount identifies no one
    )


def test_an_answer_loses_notes_name_and_personal_data_in_chinese() -> None:
    answer = generalize_answer(
        ["王先生您好，已为您冻结尾号卡 6222 0212 3456 7890 123。\nnote: 客户很着急", "如有疑问请拨打 13812345678 联系我们。"],
        name="王小明",
    )
    assert answer == "您好，已为您冻结尾号卡 [CARD]。\n\n如有疑问请拨打 [PHONE] 联系我们。"
    assert "王" not in answer and "着急" not in answer


# --- the customer's question -------------------------------------------------------------------------


def test_asking_for_a_person_is_how_they_reached_us_not_the_question() -> None:
    question = generalize_question(
        ["Can I talk to a human please?", "How do I raise my daily ATM limit? It's Ana, card 4111111111111111"],
        name="Ana Lima", person_phrases=TRIGGERS,
    )
    assert question == "How do I raise my daily ATM limit? It's, card [CARD]"


def test_a_clause_asking_for_a_person_goes_and_the_rest_stays() -> None:
    assert generalize_question(["agent please, my card was charged twice"], person_phrases=TRIGGERS) == (
        "My card was charged twice"
    )
    assert generalize_question(["转人工，我的卡被冻结了怎么办？我是王小明，电话 13812345678"], name="王小明",
                               person_phrases=TRIGGERS) == "我的卡被冻结了怎么办？电话 [PHONE]"


def test_when_asking_for_a_person_is_all_they_wrote_that_is_the_question() -> None:
    assert generalize_question(["I want to speak to an agent"], person_phrases=TRIGGERS) == "I want to speak to an agent"
    assert generalize_question(["转人工"], person_phrases=TRIGGERS) == "转人工"


# --- the draft -------------------------------------------------------------------------------------------


def exchange(questions: tuple[str, ...], answers: tuple[str, ...], name: str = "Ana Lima") -> HandoffExchange:
    return HandoffExchange(handoff_id=1, customer_name=name, customer_id="4242", questions=questions, answers=answers)


def test_no_agent_answer_means_no_suggestion() -> None:
    assert draft(exchange(("How do I raise my limit?",), ())) is None
    assert draft(exchange(("How do I raise my limit?",), ("note: called her, no answer",))) is None
    assert draft(exchange((), ("You can raise it in the app.",))) is None  # nor without a question


def test_a_draft_carries_the_language_of_what_was_said() -> None:
    english = draft(exchange(("How do I raise my limit?",), ("Hi Ana! In the app, under Cards.",)), person_phrases=TRIGGERS)
    assert english is not None and (english.question, english.answer, english.language) == (
        "How do I raise my limit?", "Hi! In the app, under Cards.", "en")
    chinese = draft(exchange(("人工", "怎么提高每日取现限额？"), ("王先生您好，请在App的“卡片”里调整限额。",), name="王小明"),
                    person_phrases=TRIGGERS)
    assert chinese is not None and (chinese.question, chinese.answer, chinese.language) == (
        "怎么提高每日取现限额？", "您好，请在App的“卡片”里调整限额。", "zh")


def test_previews_are_one_line_and_bounded() -> None:
    assert preview("a\n b  c") == "a b c"
    assert preview("x" * 300, 20) == "x" * 19 + "…"
