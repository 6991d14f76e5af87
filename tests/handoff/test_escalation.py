"""When the bot hands a conversation to people: each rule, end to end through the platforms, and
the policy itself on hand-made understandings (for the intent rule, which needs a model)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.botdef import Escalation
from core.nlu.understanding import Understanding
from core.policy import Policy, PhraseMatcher, Rule
from core.reply import Reply, ReplySource
from tests.fakes.llm_server import FakeLLMServer
from tests.handoff.conftest import BOTH_BACKENDS
from tests.handoff.support import AGENT_CHANNEL, DeskSystem, desk_system

ACK_EN = "I'm passing this to a colleague now. You can expect a reply within about 5 minutes"
ACK_ZH = "我已将您的问题转给人工客服，预计 5 分钟内回复您"


async def only_handoff(desk: DeskSystem) -> dict:
    [handoff] = await desk.handoffs()
    return handoff


@BOTH_BACKENDS
@pytest.mark.parametrize(
    ("text", "rule", "ack"),
    [
        ("Can I talk to a human please?", "trigger_phrase", ACK_EN),
        ("I want to speak to one of your agents", "trigger_phrase", ACK_EN),
        ("转人工", "trigger_phrase", ACK_ZH),
        ("This is terrible and useless, I am furious!", "negative_sentiment", ACK_EN),
    ],
)
async def test_escalation_rules_hand_over_with_one_acknowledgement(desk: DeskSystem, text: str, rule: str, ack: str) -> None:
    response = await desk.telegram_message(text)
    assert response.status_code == 200
    await desk.settle()

    [received] = desk.received("telegram")
    assert received.startswith(ack)
    handoff = await only_handoff(desk)
    assert handoff["state"] == "waiting" and handoff["rule"] == rule and handoff["reason"]
    [conversation] = await desk.rows("SELECT mode FROM conversations")
    assert conversation["mode"] == "waiting"
    [message] = await desk.rows("SELECT understanding FROM messages")
    understanding = message["understanding"]
    assert understanding["escalation"]["rule"] == rule and understanding["escalation"]["handed_over"] is True
    assert {"intent", "sentiment", "sentiment_score", "entities", "language"} <= set(understanding)
    [event] = await desk.rows("SELECT source, target, actor FROM handoff_events")
    assert event == {"source": "", "target": "waiting", "actor": "bot"}


@BOTH_BACKENDS
async def test_stolen_account_gets_the_safety_answer_first_then_reaches_a_person(desk: DeskSystem) -> None:
    await desk.sms("我的账户被盗了，该怎么办？")
    await desk.settle()

    [received] = desk.received("sms")
    safety, _, notice = received.partition("\n\n")
    assert "冻结账户" in safety and "0800 111 999" in safety  # freeze the account, call the fraud line
    assert ACK_ZH in received and received.index("冻结账户") < received.index(ACK_ZH)
    handoff = await only_handoff(desk)
    assert handoff["rule"] == "always_escalate_phrase" and "被盗" in handoff["reason"]
    assert "冻结账户" in handoff["suggested_reply"]
    [card] = desk.cards()
    assert card.channel == AGENT_CHANNEL and "被盗" in card.text


@BOTH_BACKENDS
async def test_failing_to_answer_twice_in_a_row_hands_over(desk: DeskSystem) -> None:
    await desk.telegram_message("Tell me about quantum chromodynamics")
    await desk.settle()
    assert await desk.handoffs() == []  # one miss is the bot's "I don't know", not a handoff
    await desk.telegram_message("What is the airspeed velocity of an unladen swallow?")
    await desk.settle()

    first, second = desk.received("telegram")
    assert first.startswith("I'm sorry, I don't have an answer to that.")
    assert second.startswith(ACK_EN)
    handoff = await only_handoff(desk)
    assert handoff["rule"] == "failed_turns" and "2 times in a row" in handoff["reason"]


async def test_a_good_answer_resets_the_failed_turn_count(desk: DeskSystem) -> None:
    for text in ("Tell me about quantum chromodynamics", "I lost my card", "What is a black hole made of?"):
        await desk.telegram_message(text)
        await desk.settle()
    assert await desk.handoffs() == []
    assert len(desk.received("telegram")) == 3


@pytest.fixture
def failing_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        server.fail(500, "incomplete_generation", times=50)
        yield server


async def test_no_match_is_not_sent_to_the_llm_and_repeated_no_matches_hand_over(
    tmp_path: Path, failing_llm: FakeLLMServer
) -> None:
    async with desk_system(tmp_path, llm_base_url=failing_llm.url) as desk:
        for question in ("Tell me about quantum chromodynamics", "And about string theory?", "What of loop gravity?"):
            await desk.telegram_message(question)
            await desk.settle()
        received = desk.received("telegram")
        assert "don't have an answer" in received[0]  # the no-answer path, not a guess
        assert failing_llm.requests == []  # nothing to ground on: the model is not asked
        handoff = await only_handoff(desk)
        assert handoff["rule"] == "failed_turns"


async def test_without_an_agent_desk_the_bot_keeps_answering_and_records_the_escalation(tmp_path: Path) -> None:
    async with desk_system(tmp_path, slack_agent_channel=None) as desk:
        await desk.telegram_message("Can I talk to a human please?")
        await desk.telegram_message("I lost my card")
        await desk.settle()
        assert len(desk.received("telegram")) == 2
        assert "Freeze your card" in desk.received("telegram")[1]
        assert await desk.handoffs() == []
        first = (await desk.rows("SELECT understanding FROM messages ORDER BY id"))[0]["understanding"]
        assert first["escalation"] == {"rule": "trigger_phrase", "reason": "customer asked for a person ('human')",
                                       "handed_over": False}


async def test_ordinary_questions_are_not_escalated(desk: DeskSystem) -> None:
    for text in ("I lost my card", "when are you open?", "我的卡丢了", "my card was stolen"):
        await desk.telegram_message(text)
    await desk.settle()
    assert await desk.handoffs() == []
    assert len(desk.received("telegram")) == 4


# --- the policy, rule by rule -----------------------------------------------------------------


def understanding(text: str = "", *, intent: str = "unknown", confidence: float = 0.0, oos: bool = True,
                  sentiment: float = 0.0, classified: bool = True) -> Understanding:
    return Understanding(intent=intent, intent_confidence=confidence, out_of_scope=oos,
                         sentiment="negative" if sentiment < 0 else "neutral", sentiment_score=sentiment,
                         entities=(), language="en", classified=classified)


RULES = Escalation(
    always_escalate_intents=["compromised_card"], always_escalate_phrases=["hacked", "被盗"],
    trigger_phrases=["human", "real person", "人工"], sentiment_threshold=-0.6, confidence_threshold=0.35, max_failed_turns=2,
)
ANSWERED = Reply("Freeze your card in the app.", "en", ReplySource.EXTRACTIVE, grounding_score=0.5)


def test_the_intent_model_escalates_sensitive_intents_only_when_confident() -> None:
    policy = Policy(RULES, min_grounding=0.12)
    confident = understanding(intent="compromised_card", confidence=0.91, oos=False)
    decision = policy.decide("someone used my card in Paris", confident, ANSWERED, failed_turns=0)
    assert decision.escalate and decision.rule is Rule.ALWAYS_ESCALATE_INTENT and decision.safety_answer
    unsure = understanding(intent="compromised_card", confidence=0.2, oos=True)
    assert not policy.decide("someone used my card in Paris", unsure, ANSWERED, failed_turns=0).escalate
    # without a model the "intent" is a placeholder and never trusted
    placeholder = understanding(intent="compromised_card", confidence=0.91, oos=False, classified=False)
    assert not policy.decide("x", placeholder, ANSWERED, failed_turns=0).escalate


def test_phrases_match_as_words_in_latin_scripts_and_as_substrings_in_chinese() -> None:
    matcher = PhraseMatcher(["agent", "real person", "被盗"])
    assert matcher.find("Can I get an AGENT?") == "AGENT"
    assert matcher.find("talk to a  real   person") == "real   person"
    assert matcher.find("your agents are great") == "agents"
    assert matcher.find("what's on the agenda") is None
    assert matcher.find("reagent prices") is None
    assert matcher.find("我的账户被盗了") == "被盗"


@pytest.mark.parametrize(
    ("text", "nlu", "reply", "failed", "rule"),
    [
        ("my account got hacked", understanding(), ANSWERED, 0, Rule.ALWAYS_ESCALATE_PHRASE),
        ("a real person please", understanding(), ANSWERED, 0, Rule.TRIGGER_PHRASE),
        ("awful", understanding(sentiment=-0.8), ANSWERED, 0, Rule.NEGATIVE_SENTIMENT),
        ("?", understanding(), Reply("holding", "en", ReplySource.HOLDING, needs_human=True), 1, Rule.LLM_FAILED),
        ("?", understanding(), Reply("no idea", "en", ReplySource.EXTRACTIVE, needs_human=True), 2, Rule.FAILED_TURNS),
        ("hello", understanding(sentiment=-0.5), ANSWERED, 1, None),
    ],
)
def test_each_rule_names_itself(text: str, nlu: Understanding, reply: Reply, failed: int, rule: Rule | None) -> None:
    decision = Policy(RULES).decide(text, nlu, reply, failed_turns=failed)
    assert decision.rule is rule and decision.escalate is (rule is not None)
    assert bool(decision.reason) is (rule is not None)


def test_a_pause_sends_everything_to_people() -> None:
    decision = Policy(RULES).decide("hello", understanding(), ANSWERED, failed_turns=0, paused=True)
    assert decision.rule is Rule.PAUSED


def test_out_of_scope_counts_as_a_failed_turn_only_with_a_model_and_weak_grounding() -> None:
    weak = Reply("maybe", "en", ReplySource.EXTRACTIVE, grounding_score=0.13)
    policy = Policy(RULES, min_grounding=0.12)
    assert policy.failed(weak, understanding(oos=True))
    assert not policy.failed(weak, understanding(oos=True, classified=False))
    assert not policy.failed(ANSWERED, understanding(oos=True))


def test_a_sensitive_topic_outranks_a_request_for_a_person_and_keeps_its_safety_answer() -> None:
    policy = Policy(RULES)
    both = policy.decide("my account was hacked, get me a human", understanding(), ANSWERED, failed_turns=0)
    assert both.rule is Rule.ALWAYS_ESCALATE_PHRASE and both.safety_answer
    paused = policy.decide("my account was hacked", understanding(), ANSWERED, failed_turns=0, paused=True)
    assert paused.rule is Rule.PAUSED and paused.safety_answer
    plain = policy.decide("get me a human", understanding(), ANSWERED, failed_turns=0)
    assert plain.rule is Rule.TRIGGER_PHRASE and not plain.safety_answer
