"""The sentence encoder's rows for a whole training or test set, encoded once per text.

Encoding is the slow part of training with an encoder (about 50 ms a text on one core: eight
minutes for the sample bot's 10,000 examples, against seconds for the classifier). So the rows
of an encoder that also serves retrieval are kept in an `EmbeddingCache` (one file per bot, or
per evaluation), keyed by the exact text: a retrain encodes only examples it has not seen,
and a bot may ship a seed of its examples' vectors so a fresh machine does not encode at all.
Large sets are encoded in chunks so the caller can print progress.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.embedding_cache import EmbeddingCache, KnowledgeText, TextRole
from core.encoder import Encoder
from core.nlu.encoders import SentenceEncoder, load_encoder

CHUNK = 256

Progress = Callable[[str], None]


class _ChunkedQueries:
    """The retrieval encoder, fed `CHUNK` texts at a time and saying how far it got."""

    def __init__(self, encoder: Encoder, label: str, progress: Progress) -> None:
        self.name = encoder.name
        self._encoder = encoder
        self._label = label
        self._progress = progress

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return _chunked(self._encoder.encode_queries, texts, self._label, self._progress)

    def encode_passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return _chunked(self._encoder.encode_passages, texts, self._label, self._progress)


def example_vectors(
    encoder_name: str,
    texts: Sequence[str],
    *,
    cache: Path | None = None,
    seed_dir: Path | None = None,
    progress: Progress | None = None,
) -> NDArray[np.float32]:
    """One row per text from the encoder called `encoder_name`, as the intent features use it.

    `cache`: where the rows are kept, without its suffix (`<cache>.<encoder>.npz`, rewritten with
    exactly these texts); `seed_dir`: a bot folder that may ship `intent_vectors.<encoder>.npz`.
    Both apply only to encoders that encode queries (e5-small): their rows are the ones
    retrieval computes for a message.
    """
    report = progress or (lambda _line: None)
    encoder = load_encoder(encoder_name)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    if cache is None or not _encodes_queries(encoder):
        return _chunked(encoder.encode, texts, encoder_name, report)
    name = encoder.name  # type: ignore[attr-defined]
    path = cache.with_name(f"{cache.name}.{name}.npz")
    seed = seed_path(seed_dir, name) if seed_dir is not None else None
    store = EmbeddingCache(_ChunkedQueries(encoder, encoder_name, report), path, seed)  # type: ignore[arg-type]
    rows = store.vectors([KnowledgeText(text, TextRole.QUESTION) for text in texts])
    report(f"{encoder_name}: {len(texts) - store.encoded} of {len(texts)} vectors were cached ({path})")
    return rows


def seed_path(bot_folder: Path, encoder_label: str) -> Path:
    """The vectors of a bot's intent examples it may ship (`csbot knowledge vectors` style)."""
    return bot_folder / f"intent_vectors.{encoder_label}.npz"


def _encodes_queries(encoder: SentenceEncoder) -> bool:
    return callable(getattr(encoder, "encode_queries", None)) and isinstance(getattr(encoder, "name", None), str)


def _chunked(
    encode: Callable[[Sequence[str]], NDArray[np.float32]], texts: Sequence[str], label: str, report: Progress
) -> NDArray[np.float32]:
    rows = []
    for start in range(0, len(texts), CHUNK):
        rows.append(np.asarray(encode(list(texts[start:start + CHUNK])), dtype=np.float32))
        if len(texts) > CHUNK:
            report(f"{label}: encoded {min(start + CHUNK, len(texts))}/{len(texts)}")
    return np.vstack(rows)
