"""The grounding check: a generated answer may state only the facts its sources gave.

Sources are the passages the model was shown, the conversation history and the customer's own
message. A small model paraphrases well and invents numbers freely ("call +1 341 222 222",
"2–3 business days"); a wrong phone number sends a customer to a fraudster, so every checkable
fact (see `core.facts`) in the answer must be found among the sources' facts, compared by
normalized value so that a reformatted number still matches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.facts import Fact, FactKind, extract_facts, normalize

# An answer may drop or add a country code: "800 555 0199" is "+1 800 555 0199".
_MIN_PHONE_SUFFIX = 7
_DIGIT_KINDS = (FactKind.PHONE, FactKind.ACCOUNT)
# Kinds matched on their quantities within the same kind and unit: "7 days" is grounded by
# "5–7 business days"; "$20" is not grounded by "20 business days".
_QUANTITY_KINDS = (FactKind.MONEY, FactKind.PERCENT, FactKind.DURATION)


# The same articles are sources turn after turn: their facts are extracted once.
_source_facts = lru_cache(maxsize=4096)(extract_facts)
_source_text = lru_cache(maxsize=4096)(lambda text: normalize(text).lower())


def _family(fact: Fact) -> str:
    """What must agree besides the quantities: the currency, or the duration's unit (a business
    day and a day are one family: the model says "7 days" for "7 business days")."""
    if fact.kind is FactKind.MONEY:
        return fact.value.split(" ", 1)[0]
    if fact.kind is FactKind.DURATION:
        return fact.value.rsplit(" ", 1)[-1].removeprefix("business ")
    return ""


@dataclass(frozen=True, slots=True)
class Evidence:
    """The facts of the sources, indexed for the checks."""

    values: frozenset[tuple[FactKind, str]]
    quantities: dict[tuple[FactKind, str], list[frozenset[str]]]
    digit_strings: frozenset[str]
    numbers: frozenset[str]
    text: str

    @classmethod
    def of(cls, sources: Iterable[str]) -> Evidence:
        facts: list[Fact] = []
        texts: list[str] = []
        for source in sources:
            facts.extend(_source_facts(source))
            texts.append(_source_text(source))
        quantities: dict[tuple[FactKind, str], list[frozenset[str]]] = defaultdict(list)
        for fact in facts:
            if fact.kind in _QUANTITY_KINDS:
                quantities[(fact.kind, _family(fact))].append(frozenset(fact.numbers))
        return cls(
            values=frozenset((f.kind, f.value) for f in facts),
            quantities=dict(quantities),
            digit_strings=frozenset(f.value for f in facts if f.kind in _DIGIT_KINDS),
            numbers=frozenset(n for f in facts for n in f.numbers),
            text="\n".join(texts),
        )

    def supports(self, fact: Fact) -> bool:
        if (fact.kind, fact.value) in self.values:
            return True
        if fact.kind in (FactKind.URL, FactKind.EMAIL):
            return fact.value in self.text
        if fact.kind in _DIGIT_KINDS:
            return any(_same_number(fact.value, known) for known in self.digit_strings)
        if fact.kind in _QUANTITY_KINDS:
            wanted = set(fact.numbers)
            return any(wanted <= known for known in self.quantities.get((fact.kind, _family(fact)), ()))
        if fact.kind is FactKind.NUMBER:
            return fact.value in self.numbers
        return False


def _same_number(answer: str, known: str) -> bool:
    if answer == known:
        return True
    shorter, longer = sorted((answer, known), key=len)
    return len(shorter) >= _MIN_PHONE_SUFFIX and longer.endswith(shorter)


@dataclass(frozen=True, slots=True)
class GroundingReport:
    """What the check found: how many facts the answer states and which the sources lack."""

    checked: int
    unsupported: tuple[Fact, ...] = ()

    @property
    def grounded(self) -> bool:
        return not self.unsupported

    @property
    def claims(self) -> tuple[str, ...]:
        """The offending facts as the answer wrote them, once each, in order."""
        return tuple(dict.fromkeys(f.text for f in self.unsupported))


def check(answer: str, evidence: Evidence) -> GroundingReport:
    facts = extract_facts(answer)
    return GroundingReport(len(facts), tuple(f for f in facts if not evidence.supports(f)))


class GroundingOutcome(StrEnum):
    GROUNDED = "grounded"  # the first answer passed
    REGENERATED = "regenerated"  # the first failed, the stricter second passed
    FALLEN_BACK = "fallen_back"  # both failed: the best passage was quoted instead


@dataclass(frozen=True, slots=True)
class Grounding:
    """What the check did for one generated answer, kept in the message's analysis for
    `/csbot stats` and as training data (the claims show what the model tends to invent)."""

    outcome: GroundingOutcome
    failed_claims: tuple[str, ...] = ()
    articles: tuple[str, ...] = field(default=())

    def record(self) -> dict[str, Any]:
        return {"outcome": str(self.outcome), "failed_claims": list(self.failed_claims), "articles": list(self.articles)}
