"""The sentence-encoder port: text in, unit vectors out, so meaning can be compared.

Retrieval and the intent model both read a message through one `Encoder`, so a message is
encoded once per turn. A deployment swaps the implementation (an embeddings server, a bigger
model) by registering another factory in `core.nlu.encoders`; `name` identifies the model in
cached vectors, so vectors from one model are never compared with another's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


class Encoder(Protocol):
    """Queries and passages may be encoded differently (E5 prefixes them), and compared by dot
    product: every row is L2-normalised."""

    @property
    def name(self) -> str:
        """The model's identity, e.g. "e5-small-q4"; part of every cache key."""

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One unit row per customer message."""

    def encode_passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One unit row per knowledge text (title, question or body)."""
