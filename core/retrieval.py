"""Retrieval of the top knowledge passages for a message, in Chinese as well as English.

TF-IDF over a tokenizer that emits English word unigrams/bigrams and CJK character
unigrams/bigrams: Chinese has no spaces, and character bigrams are the standard cheap
substitute for word segmentation. Cosine scores are in [0, 1], so thresholds in bot.yaml
mean the same thing for every bot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.feature_extraction.text import TfidfVectorizer

from core.knowledge import Article

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


class Retriever:
    """An in-memory index over a bot's articles; rebuilt when the knowledge base changes."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self._articles = list(articles)
        self._vectorizer = TfidfVectorizer(analyzer=tokenize, sublinear_tf=True, norm="l2")
        if self._articles:
            self._matrix = self._vectorizer.fit_transform(a.searchable for a in self._articles)

    @property
    def articles(self) -> list[Article]:
        return list(self._articles)

    def search(self, query: str, *, top_k: int = 3, language: str | None = None) -> list[Passage]:
        """Top passages by cosine similarity, one per article slug, in the customer's language
        when the article has a version in it."""
        if not self._articles or not tokenize(query):
            return []
        scores = (self._matrix @ self._vectorizer.transform([query]).T).toarray().ravel()
        best: dict[str, Passage] = {}
        for index in scores.argsort()[::-1]:
            score = float(scores[index])
            if score <= 0.0:
                break
            article = self._articles[index]
            if article.slug not in best:
                best[article.slug] = Passage(article, score)
            if len(best) >= top_k:
                break
        return [self._in_language(p, language) for p in best.values()]

    def _in_language(self, passage: Passage, language: str | None) -> Passage:
        if language is None or passage.article.language == language:
            return passage
        for article in self._articles:
            if article.slug == passage.article.slug and article.language == language:
                return Passage(article, passage.score)
        return passage
