"""`csbot eval answers --cases FILE`: how well the bot answers conversations as customers write them.

A case is a short conversation and what the bot's last reply must do:

    cases:
      - turns: ["I want to send money to my sister in Canada", "how much does that cost?"]
        expect: {article: transfer-international}      # answer from this article (its slug)
      - {turns: ["write me a poem"], expect: {abstain: true}}       # the honest no-answer
      - {turns: ["thanks!"], expect: {small_talk: true}}            # a social reply, no article
      - {turns: ["my account was hacked"], expect: {escalate: true}}  # handed to a person

`language: zh` in `expect` also checks the reply's language. The conversation runs through the
bot's real engine and escalation policy (embedded responder, no LLM server, no database), one
turn after another with the history a channel would keep. Scores are shares of the cases of
each kind: `top1` (single questions), `followups` (article cases of more than one turn),
`abstain` (out-of-KB) and `small_talk`, overall and per language (`languages`), since a bot can
be good in one language and poor in the other while the overall share hides it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bots.handoff_wiring import make_nlu
from bots.runtime import make_knowledge
from core.botdef import LoadedBot
from core.engine import ConversationEngine, TurnContext
from core.errors import ConfigError
from core.extractive import ExtractiveResponder
from core.messages import ContentKind
from core.nlu.language import detect_language
from core.policy import Policy
from core.records import InboundStatus, Role, StoredMessage, Turn
from core.reply import Reply
from core.small_talk import SmallTalk
from infra.db.migrate import upgrade

Kind = Literal["top1", "followups", "abstain", "small_talk", "escalate"]
SCORED_KINDS: tuple[Kind, ...] = ("top1", "abstain", "followups", "small_talk")


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    article: str | None = None
    abstain: bool = False
    small_talk: bool = False
    escalate: bool = False
    language: str | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> Expectation:
        if sum((self.article is not None, self.abstain, self.small_talk, self.escalate)) != 1:
            raise ValueError("expect exactly one of: article, abstain, small_talk, escalate")
        return self


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    turns: list[str] = Field(min_length=1)
    expect: Expectation

    @property
    def kind(self) -> Kind:
        if self.expect.article is not None:
            return "followups" if len(self.turns) > 1 else "top1"
        return "abstain" if self.expect.abstain else "small_talk" if self.expect.small_talk else "escalate"

    @property
    def language(self) -> str:
        """The language the case is written in: `expect.language`, else that of its last turn."""
        return self.expect.language or detect_language(self.turns[-1])


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cases: list[Case] = Field(min_length=1)


def load_cases(path: Path) -> list[Case]:
    """The cases of a YAML file; a `ConfigError` naming the file and the case at fault."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), "cases", f"unreadable: {exc}") from exc
    try:
        return CaseFile.model_validate(raw).cases
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(str(path), ".".join(str(p) for p in first["loc"]), first["msg"]) from exc


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    passed: bool
    got: str  # what the reply did, for the progress lines: an article slug, "abstain", ...


class AnswerJudge:
    """Runs a case through the engine and the policy and tells whether the last reply did what
    the case expects."""

    def __init__(self, bot: LoadedBot, database_url: str) -> None:
        definition = bot.definition
        self._knowledge = make_knowledge(bot)
        self._engine = ConversationEngine(definition, self._knowledge, ExtractiveResponder(definition), nlu=make_nlu(bot, database_url))
        self._policy = Policy(definition.escalation, min_grounding=definition.retrieval.min_score)
        self._slug_of = {a.body: a.slug for a in self._knowledge.articles}
        self._social = {definition.text(k.value, lang) for k in SmallTalk for lang in definition.languages}

    async def judge(self, case: Case) -> Outcome:
        history: list[Turn] = []
        language = self._engine.bot.languages[0]
        reply: Reply | None = None
        escalated = False
        for number, text in enumerate(case.turns):
            message = StoredMessage(number, 0, "eval", str(number), text, ContentKind.TEXT, InboundStatus.RECEIVED, datetime.now(UTC))
            reply = await self._engine.reply(message, TurnContext(language, tuple(history)))
            understanding = self._engine.understand(message)
            escalated = self._policy.before_answer(text, understanding, paused=False).escalate
            history += [Turn(Role.CUSTOMER, text), Turn(Role.BOT, reply.text)]
            language = reply.language
        assert reply is not None
        got = self._describe(reply, escalated)
        expect = case.expect
        passed = {
            "top1": got == expect.article, "followups": got == expect.article, "abstain": got == "abstain",
            "small_talk": got == "small talk", "escalate": escalated,
        }[case.kind]
        if expect.language is not None:
            passed = passed and reply.language == expect.language
        return Outcome(case, passed, got)

    def _describe(self, reply: Reply, escalated: bool) -> str:
        if reply.passage:
            return self._slug_of.get(reply.passage, "an unknown passage")
        if reply.text in self._social:
            return "small talk"
        return "escalate" if escalated else "abstain"


def score(outcomes: list[Outcome]) -> dict[str, object]:
    """The JSON line: the share passed per kind (1.0 for a kind without cases), `n`, and the same
    per language under `languages`."""
    result: dict[str, object] = {**_shares(outcomes), "n": len(outcomes)}
    languages = sorted({o.case.language for o in outcomes})
    result["languages"] = {
        lang: {**_shares(of_lang), "n": len(of_lang)}
        for lang in languages
        if (of_lang := [o for o in outcomes if o.case.language == lang])
    }
    return result


def _shares(outcomes: list[Outcome]) -> dict[str, float]:
    shares: dict[str, float] = {}
    for kind in SCORED_KINDS:
        of_kind = [o.passed for o in outcomes if o.case.kind == kind]
        shares[kind] = round(sum(of_kind) / len(of_kind), 4) if of_kind else 1.0
    return shares


def summary_lines(result: dict[str, object]) -> list[str]:
    """One stderr line per metric, overall then per language: "top1 0.80 (en 0.69, zh 0.91)"."""
    languages: dict[str, dict[str, float]] = result["languages"]  # type: ignore[assignment]
    lines = []
    for kind in (*SCORED_KINDS, "n"):
        per_language = ", ".join(f"{lang} {_number(shares[kind])}" for lang, shares in languages.items())
        lines.append(f"{kind} {_number(result[kind])} ({per_language})")  # type: ignore[arg-type]
    return lines


def _number(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def evaluate_answers(bot: LoadedBot, path: Path, progress: Callable[[str], None], *,
                     database_url: str) -> dict[str, object]:
    """Score the bot (with the intent model installed in `database_url`) on the cases in `path`.
    A SQLite database is brought up to date first, as `csbot chat` does (the zero-setup path);
    a server's is left to `csbot db upgrade`."""
    cases = load_cases(path)
    if database_url.startswith("sqlite"):
        upgrade(database_url)
    progress(f"loading {bot.definition.name} and its knowledge base (first run encodes it, later runs read the cache)")
    judge = AnswerJudge(bot, database_url)
    progress(f"running {len(cases)} cases from {path}")

    async def run() -> list[Outcome]:
        outcomes = []
        for number, case in enumerate(cases, 1):
            outcome = await judge.judge(case)
            outcomes.append(outcome)
            if not outcome.passed:
                progress(f"  miss {case.kind}: {' → '.join(case.turns)!r} expected {_expected(case)}, got {outcome.got}")
            if number % 25 == 0:
                progress(f"  {number}/{len(cases)} cases")
        return outcomes

    result = score(asyncio.run(run()))
    for line in summary_lines(result):
        progress(line)
    return result


def _expected(case: Case) -> str:
    return case.expect.article or case.kind.replace("_", " ")


def print_report(result: dict[str, object]) -> None:
    print(json.dumps(result, sort_keys=False))
