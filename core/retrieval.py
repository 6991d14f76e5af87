"""Retrieval of the top knowledge passages for a message, in Chinese as well as English.

TF-IDF over a tokenizer that emits English word unigrams/bigrams and CJK character
unigrams/bigrams: Chinese has no spaces, and character bigrams are the standard cheap
substitute for word segmentation. Cosine scores are in [0, 1], so thresholds in bot.yaml
mean the same thing for every bot.

With an encoder (`retrieval.encoder:` in bot.yaml) the lexical score is fused with meaning:
each article's title and body are encoded as passages and every one of its questions as a query
(a listed question is what a customer writes: E5 matches query to query best), an article's
dense score is its best-matching text, and the fused score is
`(dense + w · lexical) / (1 + w)`; candidates are ranked by that plus `c · p / (1 + w)`, where
`p` is the probability that the message is about the article by a classifier trained on the
knowledge texts (`core.article_classifier`), and a passage's `score` (what `min_score` gates)
is the fused score alone. Words alone miss "I dropped my card on the bus" for "lost
card"; meaning alone blurs exact terms such as "SWIFT" or "PIN"; together they beat either on
the sample bot's held-out cases. Dense scores of E5 sit high (0.75 even for unrelated text, and
higher in Chinese than in English), so the bot's `min_score` must be calibrated for the fused
scale, per language (`min_score_by_language`, `csbot eval answers`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from core import article_classifier
from core.embedding_cache import EmbeddingCache, KnowledgeText, TextRole
from core.knowledge import Article
from core.lexical_index import TfidfIndex
from core import off_topic
from core.small_talk import EXEMPLARS, SmallTalk, by_meaning, short_enough

LEXICAL_WEIGHT = 0.25  # chosen on the dev cases (bots/acme_bank/eval/dev.yaml)
RECENT_QUERIES = 256  # query vectors kept per index: 1.5 KB each
# The article classifier's probability, as a ranking bonus on the same scale as `dense`.
CLASSIFIER_WEIGHT = 0.1  # dev.yaml's three-questions-per-article part: top1 0.897 at 0.05, 0.900 at 0.1, 0.897 at 0.15

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:'[a-z]+)?")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
_STOP = frozenset(
    "a an the i me my we our you your is are was were be been am do does did to of in on at for "
    "and or it this that with how what can could would should will please hi hello there".split()
)


def _stem(word: str) -> str:
    """A light English stemmer: enough to meet "cards"/"card", "blocked"/"block"."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    words: list[str] = []
    for piece in _TOKEN.findall(text.lower()):
        if _CJK_RUN.fullmatch(piece):
            tokens.extend(piece)
            tokens.extend(piece[i : i + 2] for i in range(len(piece) - 1))
        elif piece not in _STOP:
            words.append(_stem(piece))
    tokens.extend(words)
    tokens.extend(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    return tokens


@dataclass(frozen=True, slots=True)
class Passage:
    article: Article
    score: float


def passage_texts(article: Article) -> tuple[KnowledgeText, ...]:
    """The texts of an article that are encoded (and so kept in vector caches), each in its role."""
    questions = (KnowledgeText(q, TextRole.QUESTION) for q in article.questions)
    return (KnowledgeText(article.title), *questions, KnowledgeText(article.body))


def _social_texts() -> list[tuple[SmallTalk, KnowledgeText]]:
    return [(kind, KnowledgeText(text, TextRole.QUESTION)) for kind, texts in EXEMPLARS.items() for text in texts]


def _off_topic_texts() -> list[KnowledgeText]:
    return [KnowledgeText(text, TextRole.QUESTION) for text in off_topic.EXEMPLARS]


def indexed_texts(articles: Sequence[Article]) -> list[KnowledgeText]:
    """Every text the dense index encodes: the articles', the small-talk exemplars and the
    off-topic ones (so a bot's shipped vectors cover them all)."""
    return [*(t for article in articles for t in passage_texts(article)), *(t for _, t in _social_texts()), *_off_topic_texts()]


class _DenseIndex:
    """Every passage vector of every article, and which article each belongs to; beside them the
    small-talk and off-topic exemplars' vectors, which one product with the query scores as well."""

    def __init__(self, articles: Sequence[Article], cache: EmbeddingCache) -> None:
        texts: list[KnowledgeText] = []
        owners: list[int] = []
        for index, article in enumerate(articles):
            for text in passage_texts(article):
                texts.append(text)
                owners.append(index)
        social = _social_texts()
        self.cache = cache
        vectors = cache.vectors([*texts, *(t for _, t in social), *_off_topic_texts()])
        social_end = len(texts) + len(social)
        self._vectors, self._social, self._off_topic = vectors[: len(texts)], vectors[len(texts) : social_end], vectors[social_end:]
        self._social_kinds = [kind for kind, _ in social]
        # An article's texts are contiguous, so its best one is a `reduceat` over where each
        # article starts: at 10,000 articles `np.maximum.at` cost more than the product itself.
        self.owners = np.asarray(owners, dtype=np.intp)
        self._starts = np.flatnonzero(np.diff(self.owners, prepend=-1))

    @property
    def vectors(self) -> NDArray[np.float32]:
        """One row per knowledge text, in `owners` order."""
        return self._vectors

    def nearest_small_talk(self, query_vector: NDArray[np.float32]) -> tuple[SmallTalk, float, float]:
        """The exemplar kind nearest the query, its similarity, and that of the nearest knowledge text."""
        query = query_vector.astype(self._vectors.dtype, copy=False)
        social = self._social @ query
        best = int(np.argmax(social))
        return self._social_kinds[best], float(social[best]), float(np.max(self._vectors @ query))

    def off_topic_lead(self, query_vector: NDArray[np.float32]) -> float:
        """How much more similar to the query its nearest off-topic exemplar is than its nearest knowledge text."""
        query = query_vector.astype(self._vectors.dtype, copy=False)
        return float(np.max(self._off_topic @ query)) - float(np.max(self._vectors @ query))

    def scores(self, query_vector: NDArray[np.float32]) -> NDArray[np.float64]:
        """Per article, the similarity of its best passage to the query."""
        return np.maximum.reduceat((self._vectors @ query_vector.astype(self._vectors.dtype, copy=False)).astype(np.float64), self._starts)


class Retriever:
    """An in-memory index over a bot's articles; rebuilt when the knowledge base changes.
    `embeddings` switches hybrid (lexical + meaning) retrieval on."""

    def __init__(self, articles: Sequence[Article], *, embeddings: EmbeddingCache | None = None) -> None:
        self._articles = list(articles)
        self._recent = functools.lru_cache(maxsize=RECENT_QUERIES)(self._encode_uncached)
        self._dense = _DenseIndex(self._articles, embeddings) if embeddings is not None and self._articles else None
        slugs = sorted({a.slug for a in self._articles})
        self._slugs = slugs
        self._slug_index = {slug: i for i, slug in enumerate(slugs)}
        self._slug_of = np.asarray([self._slug_index[a.slug] for a in self._articles], dtype=np.intp)
        # The articles grouped by slug (one per language version), for a `reduceat` per search.
        self._by_slug = np.argsort(self._slug_of, kind="stable")
        self._slug_starts = np.flatnonzero(np.diff(self._slug_of[self._by_slug], prepend=-1))
        self._lexical = TfidfIndex(tokenize, (a.searchable for a in self._articles))
        self._classifier = (
            article_classifier.train(self._dense.vectors, self._slug_of[self._dense.owners], len(slugs))
            if self._dense is not None else None
        )

    @property
    def articles(self) -> list[Article]:
        return list(self._articles)

    @property
    def hybrid(self) -> bool:
        return self._dense is not None

    def encode(self, query: str) -> NDArray[np.float32] | None:
        """The query's vector (None without an encoder): one encoder call a message, shared by
        every search of that turn and by the intent model. The last few hundred are kept
        (read-only): a follow-up's turn searches the previous message again, which this process
        has often just encoded."""
        if self._dense is None:
            return None
        return self._recent(query)

    def _encode_uncached(self, query: str) -> NDArray[np.float32]:
        vector = self._dense.cache.encoder.encode_queries([query])[0]  # type: ignore[union-attr]
        vector.setflags(write=False)
        return vector

    def small_talk(self, query: str, vector: NDArray[np.float32] | None = None) -> SmallTalk | None:
        """The small talk a short message is by meaning (`core.small_talk.by_meaning`), or None;
        always None without an encoder."""
        if self._dense is None or not short_enough(query):
            return None
        kind, similarity, knowledge = self._dense.nearest_small_talk(vector if vector is not None else self.encode(query))  # type: ignore[arg-type]
        return by_meaning(kind, similarity, knowledge)

    def off_topic(self, query: str, vector: NDArray[np.float32] | None = None, *, after_a_question: bool = False) -> bool:
        """Whether the message is about something no article covers, by meaning
        (`core.off_topic.by_meaning`); always False without an encoder."""
        if self._dense is None or not query.strip():
            return False
        lead = self._dense.off_topic_lead(vector if vector is not None else self.encode(query))  # type: ignore[arg-type]
        return off_topic.by_meaning(lead, after_a_question=after_a_question)

    def search(
        self, query: str, *, top_k: int = 3, language: str | None = None, vector: NDArray[np.float32] | None = None,
        context: str | None = None,
    ) -> list[Passage]:
        """Top passages, one per article slug, best first (the article classifier helps rank;
        `score` stays the fused similarity), in the customer's language when the article has a
        version in it. `vector`: the query's encoding, when the caller has it.
        `context`: an earlier message the query leans on; the two are searched as one question
        ("I need to pay a supplier in Germany how long will it take?"), so the encoder reads
        "it" with its referent. On the dev follow-ups that found 17 of 20 where adding the two
        messages' separate scores found 12: "how long" alone pulls towards card delivery.
        Favouring the article the previous turn was answered from as well lost follow-ups on
        the dev cases (0.81 → 0.74 with a bonus of 0.015): a first answer that was wrong then
        held the follow-up on the wrong article."""
        if not self._articles or not query.strip():
            return []
        if context:
            query, vector = f"{context} {query}", None
        if vector is None and self._dense is not None:
            vector = self.encode(query)
        scores = self._scores(query, vector)
        ranking = scores + self._about(vector) if vector is not None else scores
        per_slug = np.maximum(np.maximum.reduceat(ranking[self._by_slug], self._slug_starts), 0.0)
        k = min(top_k, len(self._slugs))
        top = np.argpartition(-per_slug, k - 1)[:k]
        top = top[np.argsort(-per_slug[top])]
        passages: list[Passage] = []
        for slug_index in top:
            if per_slug[slug_index] <= 0.0:
                break
            best = int(np.flatnonzero((self._slug_of == slug_index) & (ranking == per_slug[slug_index]))[0])
            passages.append(self._in_language(Passage(self._articles[best], float(scores[best])), language))
        return passages

    def similarity(self, query: str, slug: str, vector: NDArray[np.float32] | None = None) -> float:
        """How close `query` is to the article `slug`, whatever it ranks: the fused score of
        its closest passage in any language, on the scale of `search`'s scores (the floor
        applies to it). 0 for an unknown slug."""
        index = self._slug_index.get(slug)
        if index is None or not query.strip():
            return 0.0
        if vector is None and self._dense is not None:
            vector = self.encode(query)
        return float(self._scores(query, vector)[self._slug_of == index].max())

    def _scores(self, query: str, vector: NDArray[np.float32] | None) -> NDArray[np.float64]:
        """Per article, how close the message is to it: words, and meaning when there is an encoder."""
        lexical = self._lexical.scores(query)
        if self._dense is None or vector is None:
            return lexical
        return (self._dense.scores(vector) + LEXICAL_WEIGHT * lexical) / (1 + LEXICAL_WEIGHT)

    def _about(self, vector: NDArray[np.float32]) -> NDArray[np.float64] | float:
        """Per article, the ranking bonus from the article classifier (0 without one). It only
        orders the candidates: a classifier over the known articles is confident about weather
        questions too, so abstention stays on the similarity score."""
        if self._classifier is None:
            return 0.0
        return CLASSIFIER_WEIGHT / (1 + LEXICAL_WEIGHT) * self._classifier.probabilities(vector)[self._slug_of]

    def _in_language(self, passage: Passage, language: str | None) -> Passage:
        if language is None or passage.article.language == language:
            return passage
        for article in self._articles:
            if article.slug == passage.article.slug and article.language == language:
                return Passage(article, passage.score)
        return passage
