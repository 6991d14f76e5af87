"""One thread per process hands jobs to the broker, in the order they were enqueued.

Sending a Celery task costs milliseconds of blocking I/O and Python (kombu's Redis transport
builds a new Redis client for every message it puts), and `JobQueue.enqueue_*` is called on an
event loop: the web process's, while it acks a webhook, and the worker's, between turns. Done
there, every publish stalls every request and turn in flight: measured on a 2-core machine a
publish took 8 ms p50 against 0.17 ms for the bare LPUSH, and 200 webhooks at once queued
behind each other's publishes. Here the caller only appends to a queue; the publisher thread
sends, oldest first, so jobs keep their order.

A job is accepted before it is sent, so a process that dies between the two loses it: its
message is in the database already (it was persisted before the ack) and the recovery sweep
puts unanswered messages and unsent replies back on the queues (see `core.recovery`), as it does
for a broker that refused the publish. `flush` lets a process that stops send what it holds,
and a Celery task send what it enqueued before it is acked (`flush_all`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable

from workers.process_thread import ProcessThread

log = logging.getLogger(__name__)
ATTEMPTS = 3  # a broker blip; longer outages are the recovery sweep's


class Publisher:
    def __init__(self) -> None:
        self._jobs: queue.Queue[Callable[[], object]] = queue.Queue()
        self._thread = ProcessThread(self._serve, "csbot-publisher")
        self._progress = threading.Condition()
        self._submitted = 0
        self._handled = 0  # sent or given up, oldest first
        _LIVE.add(self)

    def submit(self, send: Callable[[], object]) -> None:
        """Queue `send` (a publish) to run on the publisher thread; returns at once."""
        self._thread.ensure_started()
        with self._progress:
            self._submitted += 1
            self._jobs.put(send)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted before the call was sent (or given up); False on
        timeout. Later submissions do not hold it up, so it returns under a steady load too."""
        with self._progress:
            target = self._submitted
            return self._progress.wait_for(lambda: self._handled >= target, timeout)

    def _serve(self) -> None:
        while True:
            send = self._jobs.get()
            try:
                _send(send)
            finally:
                with self._progress:
                    self._handled += 1
                    self._progress.notify_all()


_LIVE: weakref.WeakSet[Publisher] = weakref.WeakSet()


def flush_all(timeout: float = 10.0) -> bool:
    """`flush` every publisher of the process. A Celery task calls it before it returns: with
    late acks, the task's message is acked only after the jobs it enqueued reached the broker,
    so a worker dying in between loses nothing (the task runs again)."""
    ok = True
    for publisher in list(_LIVE):
        if not publisher.flush(timeout):
            log.warning("jobs still unsent after %.0f s; the recovery sweep will queue them", timeout)
            ok = False
    return ok


def _send(send: Callable[[], object]) -> None:
    for attempt in range(ATTEMPTS):
        try:
            send()
            return
        except Exception as exc:  # the broker is away: retry briefly, then leave it to the sweep
            if attempt + 1 == ATTEMPTS:
                log.error("could not queue a job after %d attempts (%s); the recovery sweep will", ATTEMPTS, exc)
                return
            time.sleep(0.1 * 2**attempt)
