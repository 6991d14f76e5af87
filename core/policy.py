"""The escalation policy: answer, or hand the conversation to a person, and why.

The rules come from the bot definition (`escalation:` in bot.yaml) and are evaluated here, in
code, not left to the prompt: a model can be talked out of an instruction, a rule cannot. Each
decision names the rule that fired and a reason an agent can read, so every handoff explains
itself on the desk and in the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from core.botdef import Escalation
from core.nlu.understanding import Understanding
from core.reply import Reply, ReplySource
from core.small_talk import recognise as recognise_small_talk

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


class Rule(StrEnum):
    """Which rule handed a conversation to a person."""

    PAUSED = "paused"  # an admin paused the bot: every new message goes to people
    TRIGGER_PHRASE = "trigger_phrase"  # the customer asked for a person
    ALWAYS_ESCALATE_INTENT = "always_escalate_intent"  # a sensitive topic, by the intent model
    ALWAYS_ESCALATE_PHRASE = "always_escalate_phrase"  # a sensitive topic, by phrase
    NEGATIVE_SENTIMENT = "negative_sentiment"
    LLM_FAILED = "llm_failed"  # generation failed past its retries and nothing could stand in
    FAILED_TURNS = "failed_turns"  # the bot could not answer several times in a row
    ADMIN_TAKEOVER = "admin_takeover"  # `/csbot takeover`


@dataclass(frozen=True, slots=True)
class Decision:
    """Answer (`escalate` False), or escalate by `rule` for `reason`. `safety_answer`: the topic
    is sensitive, so the customer gets the knowledge base's advice at once (freeze the card,
    call the fraud line) along with the handoff notice, before a person can possibly be there."""

    escalate: bool
    rule: Rule | None = None
    reason: str = ""
    safety_answer: bool = False


ANSWER = Decision(False)


def _escalate(rule: Rule, reason: str, *, safety: bool = False) -> Decision:
    return Decision(True, rule, reason, safety_answer=safety)


class PhraseMatcher:
    """Finds configured phrases in a message: as whole words in Latin scripts ("agent" but not
    "agenda"; a plural "agents" counts), as substrings in Chinese, which has no spaces."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self._substrings: list[str] = []
        patterns: list[str] = []
        for phrase in (p.strip() for p in phrases):
            if not phrase:
                continue
            if _CJK.search(phrase):
                self._substrings.append(phrase)
            else:
                words = r"\s+".join(re.escape(w) for w in phrase.lower().split())
                patterns.append(rf"(?<![^\W_]){words}(?:s|es)?(?![^\W_])")
        self._words = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None

    def find(self, text: str) -> str | None:
        """The first phrase found in `text`, as it appears there; None when none is."""
        for phrase in self._substrings:
            if phrase in text:
                return phrase
        if self._words is not None and (match := self._words.search(text)):
            return match.group(0)
        return None


class Policy:
    """Decides, per customer message, whether the bot answers or a person takes over.

    `failed` says whether a turn counts towards `max_failed_turns`: no knowledge matched, the
    LLM path fell back to a holding message, or (with an intent model) the message was out of
    scope and retrieval found next to nothing. Without a model every message is "out of scope",
    so that signal is only trusted when a model exists.
    """

    def __init__(self, rules: Escalation, *, min_grounding: float = 0.0) -> None:
        self._rules = rules
        self._min_grounding = min_grounding
        self._triggers = PhraseMatcher(rules.trigger_phrases)
        self._sensitive = PhraseMatcher(rules.always_escalate_phrases)
        self._intents = frozenset(rules.always_escalate_intents)

    def failed(self, reply: Reply, understanding: Understanding | None) -> bool:
        if reply.source is ReplySource.CANNED:
            return False
        if reply.needs_human or reply.source is ReplySource.HOLDING:
            return True
        if understanding is not None and understanding.classified:
            unsure = understanding.out_of_scope or understanding.intent_confidence < self._rules.confidence_threshold
            return unsure and reply.grounding_score < 2 * self._min_grounding
        return False

    def before_answer(self, text: str, understanding: Understanding | None, *, paused: bool) -> Decision:
        """Rules that need no answer to decide: a pause, a sensitive topic, a request for a
        person, strong negative sentiment. A sensitive topic outranks a request for a person, so
        "my account was hacked, get me a human" still gets the safety advice first."""
        sensitive = self._sensitive_topic(text, understanding)
        if paused:
            return _escalate(Rule.PAUSED, "the bot is paused by an admin; people answer every new message",
                             safety=sensitive is not None)
        if sensitive is not None:
            return sensitive
        if recognise_small_talk(text) is not None:
            return ANSWER  # "are you a real person?" asks about the bot; it is no request for one
        if phrase := self._triggers.find(text):
            return _escalate(Rule.TRIGGER_PHRASE, f"customer asked for a person ({phrase!r})")
        if understanding is not None and understanding.sentiment_score <= self._rules.sentiment_threshold:
            return _escalate(
                Rule.NEGATIVE_SENTIMENT,
                f"strong negative sentiment ({understanding.sentiment_score:.2f} ≤ {self._rules.sentiment_threshold:.2f})",
            )
        return ANSWER

    def _sensitive_topic(self, text: str, understanding: Understanding | None) -> Decision | None:
        if understanding is not None and understanding.classified and not understanding.out_of_scope:
            if understanding.intent in self._intents and understanding.intent_confidence >= self._rules.confidence_threshold:
                return _escalate(
                    Rule.ALWAYS_ESCALATE_INTENT,
                    f"sensitive topic: intent {understanding.intent} ({understanding.intent_confidence:.2f})",
                    safety=True,
                )
        if phrase := self._sensitive.find(text):
            return _escalate(Rule.ALWAYS_ESCALATE_PHRASE, f"sensitive topic ({phrase!r})", safety=True)
        return None

    def after_answer(self, reply: Reply, *, failed_turns: int) -> Decision:
        """Rules that judge the answer: the LLM path failing, or too many failed turns in a row.
        `failed_turns` already counts this turn."""
        if reply.source is ReplySource.HOLDING:
            return _escalate(Rule.LLM_FAILED, f"the bot could not generate an answer ({reply.reason or 'LLM failed'})")
        if failed_turns >= self._rules.max_failed_turns:
            return _escalate(
                Rule.FAILED_TURNS,
                f"the bot could not answer {failed_turns} times in a row ({reply.reason or 'no knowledge match'})",
            )
        return ANSWER

    def decide(
        self, text: str, understanding: Understanding | None, reply: Reply, *, failed_turns: int, paused: bool = False
    ) -> Decision:
        """The whole policy for one turn: the first rule that fires wins."""
        first = self.before_answer(text, understanding, paused=paused)
        return first if first.escalate else self.after_answer(reply, failed_turns=failed_turns)
