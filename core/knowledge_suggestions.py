"""Agent answers become knowledge: one suggested entry per resolved handoff, for an admin to approve.

When a person answered a customer the bot could not help, that answer is what the bot lacked.
On resolve, the desk proposes it as a knowledge document ("suggested": stored, never searched);
`/csbot kb approve` makes it active, and from the next turn the bot answers the next customer
with it. Nothing reaches the knowledge base without an admin's approval, because an agent's
answer can be specific to one customer in ways no rule catches.

What a suggestion is made of, generalized before anyone sees it (`generalize_question`,
`generalize_answer`):

* the question: the customer message that opened the handoff and those sent before the agent's
  first answer, without the clauses that ask for a person ("Can I talk to a human?");
* the answer: the agent's replies to the customer, in order, without internal `note:` lines;
* in both, the customer's name removed ("Hi Ana, Sam here." → "Hi, Sam here."; "王先生您好" →
  "您好") and personal data redacted (`core.nlu.redaction`: card, phone, e-mail, account →
  placeholders), so what is stored, listed and later quoted to other customers names no one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from core.errors import CsbotError, NotFound
from core.nlu.language import detect_language
from core.nlu.redaction import redact
from core.policy import PhraseMatcher

if TYPE_CHECKING:  # both import core.ports, which imports this module's value types
    from core.knowledge_index import KnowledgeIndex
    from core.ports import KnowledgeSuggestionStore

SUGGESTED: Final = "suggested"
ACTIVE: Final = "active"
REJECTED: Final = "rejected"
SOURCE: Final = "handoff"  # knowledge_documents.source of agent answers
NOTE_PREFIX: Final = "note:"  # an agent's internal remark, as `core.desk` reads it (never sent)

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK_CHAR = re.compile(f"[{_CJK}]")
# Chinese forms of address that follow a surname: "王先生" says as much as "王小明".
_HONORIFICS = ("先生", "女士", "小姐", "老师", "同学")
_CLAUSE = re.compile(r"[^,;:.!?，；：。！？\n]+[,;:.!?，；：。！？]*|[,;:.!?，；：。！？]+")
_PUNCT = ",;:.!?，；：。！？"


class SuggestionError(CsbotError):
    """A decision on a knowledge suggestion that cannot be made; nothing was changed."""


class UnknownSuggestion(SuggestionError, NotFound):
    def __init__(self, document_id: int) -> None:
        self.document_id = document_id
        super().__init__(f"There is no knowledge suggestion {document_id}; `/csbot kb suggestions` lists them.")


class SuggestionDecided(SuggestionError):
    """The suggestion was approved or rejected before (`status` says which)."""

    def __init__(self, document_id: int, status: str) -> None:
        self.document_id = document_id
        self.status = status
        super().__init__(f"Knowledge suggestion {document_id} was already {status_word(status)}; nothing changed.")


def status_word(status: str) -> str:
    return {ACTIVE: "approved", REJECTED: "rejected"}.get(status, status)


@dataclass(frozen=True, slots=True)
class HandoffExchange:
    """What was said during one handoff, as stored: the customer's words that led to it and the
    agent's replies to the customer, oldest first, plus who the customer is (to leave them out)."""

    handoff_id: int
    customer_name: str
    customer_id: str
    questions: tuple[str, ...]
    answers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Draft:
    """A generalized question and answer, ready to store as a suggestion."""

    question: str
    answer: str
    language: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A knowledge document proposed from a handoff."""

    id: int
    handoff_id: int | None
    question: str
    answer: str
    language: str
    status: str
    created_at: datetime


# --- generalizing ----------------------------------------------------------------------------


def name_patterns(name: str) -> list[re.Pattern[str]]:
    """Patterns for the ways a customer's name appears in a message, longest first.

    Latin names match as whole words, as written or capitalized, so "Will" goes but "we will"
    stays (and in any case after "I'm", "my name is"); a one-letter part is no name. Chinese names have no spaces: the full name in
    either order, a given name of two or more characters, and a one-character surname only
    with a form of address ("王先生"), since alone it is an ordinary character ("行李" is not "李").
    """
    parts = [p for p in name.split() if p]
    cjk = [p for p in parts if _CJK_CHAR.search(p)]
    latin = [p for p in parts if not _CJK_CHAR.search(p)]
    honorific = f"(?:{'|'.join(_HONORIFICS)})"
    patterns: set[str] = set()
    intro_zh = "(?:我是|我叫)?"
    if len(cjk) == 1 and 2 <= len(cjk[0]) <= 4:  # one field holding surname + given name
        whole = cjk[0]
        patterns |= {intro_zh + re.escape(whole) + f"{honorific}?", re.escape(whole[0]) + honorific}
        if len(whole) >= 3:
            patterns.add(re.escape(whole[1:]))
    elif cjk:
        for joined in ("".join(cjk), "".join(reversed(cjk))):
            patterns.add(intro_zh + re.escape(joined) + f"{honorific}?")
        patterns |= {re.escape(p) for p in cjk if len(p) >= 2}
        patterns |= {re.escape(p) + honorific for p in cjk}
    if latin:
        words = [" ".join(latin), *(p for p in latin if len(p.rstrip(".")) >= 2)]
        spellings = {w for word in words for w in (word, word.title(), word.upper())}
        patterns |= {rf"(?<![^\W_]){re.escape(w)}(?![^\W_])" for w in spellings}
        patterns |= {rf"(?<![^\W_])(?i:(?:I am|I'm|my name is|this is)\s+{re.escape(w)})(?![^\W_])" for w in words}
    return [re.compile(p) for p in sorted(patterns, key=len, reverse=True)]


def remove_name(text: str, name: str, customer_id: str = "") -> str:
    """`text` without the customer's name (nor their platform id, when it is long enough to be
    one), punctuation left tidy: "Hi Ana, Sam here." → "Hi, Sam here."; "Ana, it is done." →
    "It is done."."""
    patterns = name_patterns(name)
    if len(customer_id) >= 5:
        patterns.append(re.compile(re.escape(customer_id)))
    lines = []
    for line in text.splitlines():
        cut = line
        for pattern in patterns:
            cut = pattern.sub("", cut)
        if cut != line:
            opened = any(p.match(line.lstrip()) for p in patterns)
            cut = tidy(cut)
            if opened:  # the line began with the name: it now begins with what followed it
                cut = _capitalize(cut.lstrip(_PUNCT + " "))
        lines.append(cut)
    return tidy("\n".join(lines))


def tidy(text: str) -> str:
    """Spaces and punctuation as a person would leave them after words were cut out."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"[ \t]+", " ", line).strip()
        line = re.sub(rf"\s+([{_PUNCT}])", r"\1", line)  # "Hi , Sam" → "Hi, Sam"
        line = re.sub(r"([,;:，；：])(?:\s*[,;:，；：])+", r"\1", line)  # ", ," → ","
        line = re.sub(r"([,;:，；：])\s*([.!?。！？])", r"\2", line)  # "Thanks, !" → "Thanks!"
        line = re.sub(r"([.!?。！？])\s*[,;:，；：]+", r"\1", line)  # "? ," → "?"
        line = re.sub(r"([，；：。！？])\s+", r"\1", line)  # Chinese punctuation takes no space
        lines.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def without_person_requests(text: str, asks_for_person: PhraseMatcher) -> str:
    """`text` without the clauses that ask for a person ("Can I talk to a human please?"):
    how the customer reached the desk, not what they asked. Kept, they would make the entry
    match every "agent please"."""
    clauses = [c.strip() for c in _CLAUSE.findall(text)]
    kept = [c for c in clauses if c and asks_for_person.find(c) is None]
    if len(kept) == len(clauses):
        return text
    if not any(c.strip(_PUNCT) for c in kept):
        return ""
    joined = tidy(" ".join(kept).rstrip(",;:，；： "))
    return _capitalize(joined) if kept[0] != clauses[0] else joined


def drop_notes(text: str) -> str:
    """Lines of an agent's message that are internal notes (`note: …`) never become knowledge."""
    return "\n".join(line for line in text.splitlines() if not line.strip().lower().startswith(NOTE_PREFIX))


def generalize_question(
    messages: Iterable[str], *, name: str = "", customer_id: str = "", person_phrases: Sequence[str] = ()
) -> str:
    """The customer's messages as one question, without person requests, their name or
    personal data. When asking for a person is all the customer wrote, that is the question."""
    messages = [m.strip() for m in messages if m.strip()]
    matcher = PhraseMatcher(person_phrases)
    asked = [without_person_requests(m, matcher) for m in messages]
    if not any(asked):
        asked = messages
    parts = []
    for message in asked:
        text = tidy(redact(remove_name(message, name, customer_id)))
        if text.strip(_PUNCT + " "):
            parts.append(" ".join(text.split()))
    return " ".join(parts)


def generalize_answer(replies: Iterable[str], *, name: str = "", customer_id: str = "") -> str:
    """The agent's replies as one answer, paragraphs in order, without notes, the customer's
    name or personal data."""
    parts = []
    for reply in replies:
        text = tidy(redact(remove_name(drop_notes(reply), name, customer_id)))
        if text:
            parts.append(text)
    return "\n\n".join(parts)


def draft(exchange: HandoffExchange, *, person_phrases: Sequence[str] = ()) -> Draft | None:
    """The suggestion a handoff makes; None when the agent said nothing to the customer (or
    the customer asked nothing): there is no answer to learn."""
    answer = generalize_answer(exchange.answers, name=exchange.customer_name, customer_id=exchange.customer_id)
    question = generalize_question(
        exchange.questions, name=exchange.customer_name, customer_id=exchange.customer_id, person_phrases=person_phrases
    )
    if not answer or not question:
        return None
    return Draft(question, answer, detect_language(f"{question} {answer}"))


def preview(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# --- the service -----------------------------------------------------------------------------


class KnowledgeSuggestions:
    """Proposing agent answers on resolve, and the admin's approve / reject.

    `person_phrases` are the bot's escalation trigger phrases: clauses with them are dropped
    from the question. Approving re-indexes this process's knowledge at once; every other
    process picks the document up on its next turn, because it raises the count of active
    documents that `KnowledgeIndex.refresh` polls.
    """

    def __init__(
        self, bot: str, store: KnowledgeSuggestionStore, index: KnowledgeIndex, *, person_phrases: Sequence[str] = ()
    ) -> None:
        self._bot = bot
        self._store = store
        self._index = index
        self._person_phrases = tuple(person_phrases)

    async def propose(self, handoff_id: int) -> int | None:
        """Store the handoff's suggestion; its document id, or None when there is nothing to
        suggest or the handoff already proposed one (exactly once, whoever calls)."""
        exchange = await self._store.handoff_exchange(handoff_id)
        suggestion = draft(exchange, person_phrases=self._person_phrases)
        if suggestion is None:
            return None
        return await self._store.suggest_knowledge(
            self._bot, handoff_id, title=suggestion.question, body=suggestion.answer, language=suggestion.language
        )

    async def pending(self) -> list[Suggestion]:
        return await self._store.knowledge_suggestions(self._bot)

    async def approve(self, document_id: int) -> Suggestion:
        """Make a suggestion active knowledge, searchable from now on."""
        decided = await self._store.decide_suggestion(self._bot, document_id, ACTIVE)
        await self._index.refresh()
        return decided

    async def reject(self, document_id: int) -> Suggestion:
        return await self._store.decide_suggestion(self._bot, document_id, REJECTED)
