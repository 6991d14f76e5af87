"""The live knowledge index: the bot's files plus documents added at run time, searchable at once.

`/csbot kb add` writes a document to the database, `/csbot kb approve` turns an agent's
suggested answer active; this process re-indexes immediately, and every other process (web,
workers) notices within `stale_after` seconds (2 by default): a turn calls `refresh_if_due`,
which compares a cheap stamp (count, newest id) of the active documents at most that often, so
a busy worker does not ask the database on every turn, and rebuilds only when it changed. Documents only
ever become active, never stop being so, so every add or approval raises the count: an
approved suggestion older than the newest document still changes the stamp.

With hybrid retrieval a rebuild reads every known vector back from the `EmbeddingCache` and
encodes only the new document's texts, so an added answer is found by meaning at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from core.embedding_cache import EmbeddingCache
from core.knowledge import Article
from core.nlu.language import detect_language
from core.ports import KnowledgeStore
from core.retrieval import Passage, Retriever
from core.small_talk import SmallTalk


class KnowledgeIndex:
    """A `Retriever` over files + database documents, rebuilt when the documents change."""

    def __init__(
        self, bot: str, files: Sequence[Article], store: KnowledgeStore | None = None,
        *, embeddings: EmbeddingCache | None = None, stale_after: float = 2.0,
    ) -> None:
        self._bot = bot
        self._files = list(files)
        self._store = store
        self._embeddings = embeddings
        self._stamp: tuple[int, int] | None = None
        self._stale_after = stale_after
        self._checked_at = -float("inf")  # monotonic time of the last look at the stamp
        self._retriever = Retriever(self._files, embeddings=embeddings)
        self._lock = asyncio.Lock()

    @property
    def articles(self) -> list[Article]:
        return self._retriever.articles

    def search(
        self, query: str, *, top_k: int = 3, language: str | None = None,
        vector: NDArray[np.float32] | None = None, context: str | None = None,
    ) -> list[Passage]:
        return self._retriever.search(query, top_k=top_k, language=language, vector=vector, context=context)

    def similarity(self, query: str, slug: str, vector: NDArray[np.float32] | None = None) -> float:
        return self._retriever.similarity(query, slug, vector)

    def encode(self, query: str) -> NDArray[np.float32] | None:
        """The query's vector from the current index's encoder (None without one)."""
        return self._retriever.encode(query)

    def small_talk(self, query: str, vector: NDArray[np.float32] | None = None) -> SmallTalk | None:
        """The small talk a short message is by meaning (None without an encoder)."""
        return self._retriever.small_talk(query, vector)

    def off_topic(self, query: str, vector: NDArray[np.float32] | None = None, *, after_a_question: bool = False) -> bool:
        """Whether the message is about something no article covers (False without an encoder)."""
        return self._retriever.off_topic(query, vector, after_a_question=after_a_question)

    @property
    def hybrid(self) -> bool:
        return self._retriever.hybrid

    async def refresh_if_due(self) -> bool:
        """`refresh`, unless the stamp was looked at less than `stale_after` seconds ago."""
        if time.monotonic() - self._checked_at < self._stale_after:
            return False
        return await self.refresh()

    async def refresh(self) -> bool:
        """Re-index if documents were added or approved since the last look; True when it rebuilt."""
        if self._store is None:
            return False
        self._checked_at = time.monotonic()
        stamp = await self._store.knowledge_stamp(self._bot)
        if stamp == self._stamp:
            return False
        async with self._lock:
            documents = await self._store.knowledge_documents(self._bot)
            # Off the loop: tokenizing every article and encoding the new ones is CPU work that
            # would stall every turn in flight (seconds for a large knowledge base).
            self._retriever = await asyncio.to_thread(Retriever, [*self._files, *documents], embeddings=self._embeddings)
            self._stamp = stamp
        return True

    async def add(self, question: str, answer: str) -> int:
        """Store a question/answer pair and index it now; returns the document id."""
        if self._store is None:
            raise RuntimeError("this knowledge index has no store to add documents to")
        language = detect_language(f"{question} {answer}")
        document_id = await self._store.add_knowledge(self._bot, title=question, body=answer, language=language)
        await self.refresh()
        return document_id
