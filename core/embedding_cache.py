"""Passage vectors kept on disk, so a knowledge base is encoded once per content version.

Encoding the sample bot's 39 articles (titles, questions, bodies in two languages) takes about
a minute on one core; a process start must not pay that. Vectors are keyed by the encoder's
name and a hash of the exact text, so an edited article is re-encoded (its text, hence its key,
changed) while everything else is read back, and a document added at run time costs one
encoder call for its own texts only. The file is rewritten atomically with the live set only,
so vectors of removed or edited texts do not pile up.

A text is encoded in one of two roles (`TextRole`): an article's title and body as E5
passages, its `questions:` as queries, because they are what customers write and E5 compares
two queries symmetrically ("query: " on both sides), which matches a customer's message to a
listed question far better than "query: " against "passage: ". The role is part of the key.

A bot may ship a read-only seed (`knowledge_vectors.<encoder>.npz` next to its bot.yaml, float16,
keyed the same way): a fresh machine then starts at once, and only texts the seed lacks (edited
since it was written) are encoded. `csbot knowledge vectors` rewrites a bot's seed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.encoder import Encoder


def default_cache_dir() -> Path:
    """`$CSBOT_CACHE_DIR`, else the user's cache folder (`$XDG_CACHE_HOME/csbot`)."""
    if folder := os.environ.get("CSBOT_CACHE_DIR"):
        return Path(folder)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "csbot"


class TextRole(StrEnum):
    PASSAGE = "passage"  # knowledge as written: titles, bodies
    QUESTION = "question"  # a question in customers' words: encoded as a query


@dataclass(frozen=True, slots=True)
class KnowledgeText:
    text: str
    role: TextRole = TextRole.PASSAGE


def _key(item: KnowledgeText) -> str:
    # Passages keep their historical key (the text's hash), so existing caches stay valid.
    prefix = "" if item.role is TextRole.PASSAGE else f"{item.role}\0"
    return hashlib.sha256(f"{prefix}{item.text}".encode()).hexdigest()


class EmbeddingCache:
    """The passage vectors of one bot's knowledge under one encoder; `encoded` counts the texts
    this process had to encode itself (the rest came from disk)."""

    def __init__(self, encoder: Encoder, path: Path | None, seed: Path | None = None) -> None:
        self.encoder = encoder
        self.path = path
        self.encoded = 0
        stored = _read(path)
        self._stored = set(stored)
        self._vectors: dict[str, NDArray[np.float32]] = {**_read(seed), **stored}

    @classmethod
    def for_bot(cls, encoder: Encoder, bot: str, folder: Path | None = None, seed_dir: Path | None = None) -> EmbeddingCache:
        """The user's cache of `bot`, seeded from `seed_dir` (the bot's folder) when it ships one."""
        seed = seed_path(seed_dir, encoder.name) if seed_dir is not None else None
        return cls(encoder, (folder or default_cache_dir()) / f"{bot}.{encoder.name}.npz", seed)

    def passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One row per title or body; see `vectors`."""
        return self.vectors([KnowledgeText(t) for t in texts])

    def vectors(self, items: Sequence[KnowledgeText]) -> NDArray[np.float32]:
        """One row per text in its role, encoding only those not seen before in this version;
        the texts of this call are the live set kept on disk."""
        keys = [_key(item) for item in items]
        missing = {k: item for k, item in zip(keys, items, strict=True) if k not in self._vectors}
        for role in TextRole:
            of_role = {k: item.text for k, item in missing.items() if item.role is role}
            if of_role:
                encode = self.encoder.encode_queries if role is TextRole.QUESTION else self.encoder.encode_passages
                self._vectors.update(zip(of_role, encode(list(of_role.values())), strict=True))
        self.encoded += len(missing)
        live = set(keys)
        self._vectors = {k: v for k, v in self._vectors.items() if k in live}
        if missing or live != self._stored:
            self._write()
            self._stored = live
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32, copy=False)

    def write_seed(self, path: Path) -> None:
        """Save the live vectors as a compact float16 seed (call after `passages`)."""
        _save(path, {k: v.astype(np.float16) for k, v in self._vectors.items()}, compressed=True)
        path.chmod(0o644)  # shipped with the bot: readable by whoever runs it

    def _write(self) -> None:
        if self.path is not None:
            _save(self.path, self._vectors, compressed=False)


def seed_path(bot_folder: Path, encoder_name: str) -> Path:
    return bot_folder / f"knowledge_vectors.{encoder_name}.npz"


def missing_texts(items: Sequence[KnowledgeText], seed: Path) -> list[KnowledgeText]:
    """The texts a seed file has no vector for (all of them when there is no seed)."""
    known = _read(seed)
    return [item for item in items if _key(item) not in known]


def _read(path: Path | None) -> dict[str, NDArray[np.float32]]:
    if path is None or not path.exists():
        return {}
    try:
        with np.load(path) as data:
            keys, matrix = data["keys"], data["vectors"].astype(np.float32)
    except (OSError, ValueError, KeyError):
        return {}  # unreadable (a crash mid-write on a filesystem without atomic rename): re-encode
    return {str(k): row for k, row in zip(keys, matrix, strict=True)}


def _save(path: Path, vectors: dict[str, NDArray[np.generic]], *, compressed: bool) -> None:
    """Write atomically: a crash mid-write leaves the previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = np.array(list(vectors), dtype="U64")
    matrix = np.stack(list(vectors.values())) if vectors else np.zeros((0, 0), dtype=np.float32)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    with os.fdopen(handle, "wb") as stream:
        (np.savez_compressed if compressed else np.savez)(stream, keys=keys, vectors=matrix)
    os.replace(temporary, path)
