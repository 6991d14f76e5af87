"""Passage vectors kept on disk, so a knowledge base is encoded once per content version.

Encoding the sample bot's 39 articles (titles, questions, bodies in two languages) takes about
a minute on one core; a process start must not pay that. Vectors are keyed by the encoder's
name and a hash of the exact text, so an edited article is re-encoded (its text, hence its key,
changed) while everything else is read back, and a document added at run time costs one
encoder call for its own texts only. The file is rewritten atomically with the live set only,
so vectors of removed or edited texts do not pile up.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.encoder import Encoder


def default_cache_dir() -> Path:
    """`$CSBOT_CACHE_DIR`, else the user's cache folder (`$XDG_CACHE_HOME/csbot`)."""
    if folder := os.environ.get("CSBOT_CACHE_DIR"):
        return Path(folder)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "csbot"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """The passage vectors of one bot's knowledge under one encoder; `encoded` counts the texts
    this process had to encode itself (the rest came from disk)."""

    def __init__(self, encoder: Encoder, path: Path | None) -> None:
        self.encoder = encoder
        self.path = path
        self.encoded = 0
        self._vectors: dict[str, NDArray[np.float32]] = self._read()

    @classmethod
    def for_bot(cls, encoder: Encoder, bot: str, folder: Path | None = None) -> EmbeddingCache:
        return cls(encoder, (folder or default_cache_dir()) / f"{bot}.{encoder.name}.npz")

    def passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One row per text, encoding only those not seen before in this version."""
        keys = [_key(t) for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}
        if missing:
            rows = self.encoder.encode_passages(list(missing.values()))
            self._vectors.update(zip(missing, rows, strict=True))
            self.encoded += len(missing)
        live = set(keys)
        if missing or live != set(self._vectors):
            self._vectors = {k: v for k, v in self._vectors.items() if k in live}
            self._write()
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32, copy=False)

    def _read(self) -> dict[str, NDArray[np.float32]]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            with np.load(self.path) as data:
                keys, matrix = data["keys"], data["vectors"]
        except (OSError, ValueError, KeyError):
            return {}  # unreadable (a crash mid-write on a filesystem without atomic rename): re-encode
        return {str(k): row for k, row in zip(keys, matrix, strict=True)}

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype="U64")
        matrix = np.stack(list(self._vectors.values())) if self._vectors else np.zeros((0, 0), dtype=np.float32)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, keys=keys, vectors=matrix)
        os.replace(temporary, self.path)
