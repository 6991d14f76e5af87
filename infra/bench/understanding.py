"""Understanding benchmark: per-message cost of retrieval + NLU against the lexical-only path,
with the sample bot's articles and with a large synthetic knowledge base, in the same run.

    python -m infra.bench.understanding [--messages 100] [--articles 10000]

Each component is timed on its own, one message at a time on one thread, and printed as a p50:
the encoder call (once per message), lexical search, hybrid search given the vector, and the
NLU pipeline (sentiment, entities, language). The synthetic articles' words are drawn from the
sample articles; their passage vectors are random unit vectors rather than encoded (encoding
30,000 passages would take most of an hour, and a search's cost does not depend on the vectors'
values). The messages are the sample bot's held-out eval questions (timed only; nothing here
scores answers).

Start-up is timed first, in the same process before anything is warm: loading the encoder, the
sample bot's cached vectors and both indexes, against the bare baseline of the lexical index
alone (what a process without an encoder builds), and the index build over the large base.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import yaml
from numpy.typing import NDArray

from core.botdef import load_bot
from core.embedding_cache import EmbeddingCache
from core.encoder import Encoder
from core.engine import ConversationEngine
from core.extractive import ExtractiveResponder
from core.knowledge import Article, load_articles
from core.nlu.encoders import QueryEmbedding, load_retrieval_encoder
from core.nlu.understanding import NluPipeline
from core.records import Role, Turn
from core.retrieval import Retriever

SAMPLE_BOT = Path(__file__).resolve().parents[2] / "bots" / "acme_bank"


class _RandomPassages:
    """Random unit vectors for the knowledge texts (passages, and listed questions, which are
    encoded as queries); the real encoder for everything else: the customers' messages, and a
    follow-up searched with the message before it."""

    def __init__(self, real: Encoder, knowledge: Sequence[Article]) -> None:
        self._real = real
        self._knowledge = frozenset(q for a in knowledge for q in a.questions)
        self._random = np.random.default_rng(0)
        self.name = f"random-{real.name}"

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if self._knowledge.isdisjoint(texts):
            return self._real.encode_queries(texts)
        return self.encode_passages(texts)

    def encode_passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        rows = self._random.standard_normal((len(texts), 384)).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def synthetic(articles: list[Article], count: int) -> list[Article]:
    rng = random.Random(0)
    words = [w for a in articles for w in a.searchable.split()]
    return [
        Article(f"synthetic-{i}", "en", " ".join(rng.choices(words, k=6)), " ".join(rng.choices(words, k=80)),
                tuple(" ".join(rng.choices(words, k=8)) for _ in range(4)))
        for i in range(count)
    ]


# The clock of every per-message timing: CPU time of this thread by default, the cost on one
# core whatever else the machine runs (on a shared machine wall time measures the neighbours);
# `--clock wall` for an idle machine.
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.thread_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


def p50_ms(run: Callable[[str], object], messages: list[str]) -> float:
    timings = []
    for text in messages:
        started = clock()
        run(text)
        timings.append(clock() - started)
    return statistics.median(timings) * 1000


def seconds(run: Callable[[], object]) -> tuple[float, object]:
    started = clock()
    result = run()
    return clock() - started, result


def startup() -> Encoder:
    """Time a bot's start with hybrid retrieval against the lexical-only start; returns the
    loaded encoder for the per-message measurements."""
    bare, _ = seconds(lambda: Retriever(load_articles(SAMPLE_BOT / "knowledge")))
    load, encoder = seconds(lambda: load_retrieval_encoder("e5-small"))
    cache = EmbeddingCache.for_bot(encoder, "acme_bank", seed_dir=SAMPLE_BOT)  # type: ignore[arg-type]
    # Reading the cached vectors happens inside the build (the cache reads its file on first use).
    index, _ = seconds(lambda: Retriever(load_articles(SAMPLE_BOT / "knowledge"), embeddings=cache))
    total = load + index
    print(f"start-up: encoder load {load * 1000:.0f} ms · articles + cached vectors + indexes {index * 1000:.0f} ms · "
          f"lexical-only start {bare * 1000:.0f} ms")
    print(f"start-up: hybrid {total:.2f} s, lexical-only {bare:.2f} s")
    print(f"ratio start-up hybrid/lexical-only: {total / bare:.2f}x")
    return encoder  # type: ignore[return-value]


# A conversation the follow-up turn is timed in: each timed message is its third customer message.
EARLIER = ("I sent money to my brother at another bank on Monday", "he says it still hasn't come in")


def measure(label: str, articles: list[Article], cache: EmbeddingCache, messages: list[str]) -> None:
    print(f"[{label}: {len(articles)} articles] building both indexes", file=sys.stderr, flush=True)
    words_build, lexical = seconds(lambda: Retriever(articles))
    hybrid_build, hybrid = seconds(lambda: Retriever(articles, embeddings=cache))
    print(f"{label}: index build hybrid {hybrid_build:.2f} s (vectors given), lexical-only {words_build:.2f} s")
    nlu = NluPipeline(None)
    # The encoder itself, not the index's cache of recent query vectors: each message is new.
    def fresh(text: str) -> NDArray[np.float32]:
        return cache.encoder.encode_queries([text])[0]
    vectors = {t: fresh(t) for t in messages}
    encode = p50_ms(fresh, messages)
    words = p50_ms(lambda t: lexical.search(t), messages)
    fused = p50_ms(lambda t: hybrid.search(t, vector=vectors[t]), messages)
    understanding = p50_ms(nlu.analyze, messages)
    total = p50_ms(lambda t: (hybrid.search(t, vector=fresh(t)), nlu.analyze(t)), messages)
    baseline = p50_ms(lambda t: (lexical.search(t), nlu.analyze(t)), messages)
    followup = p50_ms(_follow_up_turn(hybrid, vectors), messages)
    print(f"{label}: encoder {encode:.1f} ms · lexical search {words:.1f} ms · hybrid search {fused:.1f} ms · "
          f"nlu {understanding:.1f} ms (p50 per message)")
    print(f"{label}: retrieval + nlu p50 {total:.1f} ms, lexical-only path {baseline:.1f} ms")
    print(f"{label}: retrieval as a third message p50 {followup:.1f} ms (its own vector given; the searches "
          f"with the earlier messages, and their encoding when joined, included)")
    print(f"ratio {label} hybrid/lexical-only: {total / baseline:.2f}x")


def _follow_up_turn(index: Retriever, vectors: dict[str, NDArray[np.float32]]) -> Callable[[str], object]:
    """The engine's retrieval of a message after `EARLIER`, as a worker runs it: the earlier
    messages' vectors are in the index's cache from their own turns, the joined ones are not."""
    bot = load_bot(SAMPLE_BOT).definition
    engine = ConversationEngine(bot, index, ExtractiveResponder(bot))
    history = [turn for text in EARLIER for turn in (Turn(Role.CUSTOMER, text), Turn(Role.BOT, "…"))]
    for text in EARLIER:
        index.encode(text)

    def run(text: str) -> object:
        language = engine.language_of(text, "en")
        return engine.retrieve(text, language, history, QueryEmbedding("e5-small", vectors[text]))
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    print(f"clock: {args.clock} time, one thread")
    cases = yaml.safe_load((SAMPLE_BOT / "eval" / "heldout.yaml").read_text(encoding="utf-8"))["cases"]
    messages = [c["turns"][-1] for c in cases][: args.messages]
    encoder = startup()
    articles = load_articles(SAMPLE_BOT / "knowledge")
    # The sample bot's vectors: the same on-disk cache `csbot` uses, seeded from the shipped file.
    measure("sample", articles, EmbeddingCache.for_bot(encoder, "acme_bank", seed_dir=SAMPLE_BOT), messages)
    extra = synthetic(articles, args.articles)
    large = EmbeddingCache(_RandomPassages(encoder, extra), None)
    measure("large", articles + extra, large, messages)


if __name__ == "__main__":
    main()
