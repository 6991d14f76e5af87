"""TF-IDF over a tokenizer, on scipy.sparse: the lexical half of retrieval.

The same weighting as scikit-learn's `TfidfVectorizer(sublinear_tf=True, norm="l2")` (smoothed
idf `ln((1 + n) / (1 + df)) + 1`, term frequency `1 + ln(tf)`, rows of unit length), written out
because importing scikit-learn costs most of a second at every process start, and the knowledge
index is built before a process answers its first message; the test suite checks the scores
against scikit-learn's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix


class TfidfIndex:
    """Fitted on the documents once; `transform` weighs a query by their vocabulary."""

    def __init__(self, tokenize: Callable[[str], list[str]], documents: Iterable[str]) -> None:
        self._tokenize = tokenize
        counts = [Counter(tokenize(document)) for document in documents]
        frequency = Counter(term for document in counts for term in document)
        self._vocabulary = {term: index for index, term in enumerate(sorted(frequency))}
        n = len(counts)
        self._idf = np.array([math.log((1 + n) / (1 + frequency[t])) + 1 for t in sorted(frequency)])
        self.matrix = self._rows(counts)

    def transform(self, text: str) -> csr_matrix:
        return self._rows([Counter(self._tokenize(text))])

    def scores(self, text: str) -> NDArray[np.float64]:
        """Cosine similarity of `text` to every document. The query as a dense vector times the
        sparse matrix: at 10,000 documents a sparse-by-sparse product took 50 times longer."""
        query = self.transform(text)
        dense = np.zeros(len(self._vocabulary))
        dense[query.indices] = query.data
        return np.asarray(self.matrix @ dense)

    def _rows(self, counts: list[Counter[str]]) -> csr_matrix:
        """Unit rows of `(1 + ln tf) · idf`; the arithmetic in numpy over all documents at once,
        since a per-term Python loop made most of a 10,000-article index build."""
        indices: list[int] = []
        tfs: list[int] = []
        indptr = [0]
        vocabulary = self._vocabulary
        for document in counts:
            known = [(vocabulary[t], n) for t, n in document.items() if t in vocabulary]
            indices.extend(i for i, _ in known)
            tfs.extend(n for _, n in known)
            indptr.append(len(indices))
        columns = np.asarray(indices, dtype=np.intp)
        weights = (1.0 + np.log(np.asarray(tfs, dtype=np.float64))) * self._idf[columns]
        bounds = np.asarray(indptr)
        lengths = np.diff(bounds)
        rows = np.repeat(np.arange(len(counts)), lengths)
        norms = np.sqrt(np.bincount(rows, weights * weights, minlength=len(counts)))
        values = weights / np.where(norms > 0, norms, 1.0)[rows]
        return csr_matrix((values, columns, bounds), shape=(len(counts), len(vocabulary)))
