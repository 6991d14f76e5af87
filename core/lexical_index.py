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

    def _rows(self, counts: list[Counter[str]]) -> csr_matrix:
        indptr, indices, values = [0], [], []
        for document in counts:
            known = [(self._vocabulary[t], n) for t, n in document.items() if t in self._vocabulary]
            weights = [(1 + math.log(n)) * self._idf[i] for i, n in known]
            norm = math.sqrt(sum(w * w for w in weights)) or 1.0
            indices.extend(i for i, _ in known)
            values.extend(w / norm for w in weights)
            indptr.append(len(indices))
        return csr_matrix((np.asarray(values, dtype=np.float64), indices, indptr), shape=(len(counts), len(self._vocabulary)))
