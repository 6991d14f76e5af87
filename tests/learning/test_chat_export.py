"""The rules that turn a conversation into a fine-tuning example."""

from __future__ import annotations

import json

from core.learning.chat_export import build_chat_example
from core.learning.transcripts import ConversationLog, LogEntry
from core.records import Role

PERSONA = "  You are a bank assistant.\n"


def customer(text: str) -> LogEntry:
    return LogEntry(Role.CUSTOMER, text)


def bot(text: str, *, disliked: bool = False, source: str = "llm") -> LogEntry:
    return LogEntry(Role.BOT, text, source, disliked)


def agent(text: str) -> LogEntry:
    return LogEntry(Role.AGENT, text, "agent")


def contents(*entries: LogEntry) -> list[tuple[str, str]]:
    example = build_chat_example(ConversationLog(1, entries), PERSONA)
    return [(m.role, m.content) for m in example.messages]


def test_consecutive_lines_merge_so_roles_alternate() -> None:
    assert contents(bot("Welcome!"), customer("hi"), customer("I lost my card"), bot("Freeze it."), bot("Anything else?")) == [
        ("system", "You are a bank assistant."),
        ("user", "hi\n\nI lost my card"),
        ("assistant", "Freeze it.\n\nAnything else?"),
    ]


def test_agent_answer_replaces_a_disliked_one_and_the_notice_before_it() -> None:
    example = build_chat_example(
        ConversationLog(7, (customer("why the fee?"), bot("See website.", disliked=True), bot("Connecting you.", source="canned"), agent("It was an ATM fee; refunded."))),
        PERSONA,
    )
    assert [(m.role, m.content) for m in example.messages][1:] == [("user", "why the fee?"), ("assistant", "It was an ATM fee; refunded.")]
    assert (example.replaced, example.dropped) == (1, 0)
    assert json.loads(example.to_json())["messages"][2] == {"role": "assistant", "content": "It was an ATM fee; refunded."}


def test_disliked_answer_without_agent_drops_the_turn() -> None:
    example = build_chat_example(
        ConversationLog(1, (customer("q1"), bot("bad", disliked=True), customer("q2"), bot("good"))), PERSONA
    )
    assert [m.content for m in example.messages][1:] == ["q2", "good"]
    assert (example.replaced, example.dropped) == (0, 1)


def test_an_agent_answer_before_the_disliked_one_does_not_replace_it() -> None:
    assert contents(customer("q"), agent("早上好"), bot("bad", disliked=True)) == [("system", "You are a bank assistant.")]


def test_conversation_without_an_answered_question_is_not_usable() -> None:
    example = build_chat_example(ConversationLog(1, (bot("Welcome!"), customer(""), bot("Text only, please."), customer("hello?"))), PERSONA)
    assert not example.usable
    assert len(example.messages) == 1
