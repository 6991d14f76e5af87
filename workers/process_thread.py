"""A daemon thread of this process, started on first use and again in a forked child.

A forked child (Celery's prefork pool, a test's multiprocessing) inherits the parent's objects
but not its threads: an object that serves callers from a thread of its own checks, on every
use, that the thread it started belongs to this process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


class ProcessThread:
    def __init__(self, target: Callable[[], None], name: str) -> None:
        self._target, self._name = target, name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def ensure_started(self) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._target, name=self._name, daemon=True)
                self._thread.start()
