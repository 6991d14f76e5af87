"""`csbot worker` yields the CPU to the web edge on the same machine: `WORKER_NICE` steps taken
before its threads start, and the batching encoder thread a further step below the worker."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from core.errors import ConfigError
from infra.settings import load_settings

# Prints the niceness of the process, of a thread it starts (as Celery's pool threads are) and
# of the batching encoder's thread (read inside the encoder call it makes).
PROBE = textwrap.dedent(
    """
    import os, threading
    import numpy as np
    from bots.worker import lower_priority
    from workers.batched_encoder import BatchedEncoder

    def niceness():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    class Recording:
        name = "recording"
        seen = None
        def encode_queries(self, texts):
            Recording.seen = niceness()
            return np.zeros((len(texts), 2), dtype=np.float32)
        encode_passages = encode_queries

    lower_priority(STEPS)
    pool = []
    thread = threading.Thread(target=lambda: pool.append(niceness()))
    thread.start()
    thread.join()
    BatchedEncoder(Recording(), niceness=3).encode_queries(["hello"])
    print(niceness(), pool[0], Recording.seen)
    """
)


def niceness_after(steps: int) -> list[int]:
    done = subprocess.run([sys.executable, "-c", PROBE.replace("STEPS", str(steps))],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [int(n) for n in done.stdout.split()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_the_worker_and_its_threads_run_below_the_web_edge_and_the_encoder_below_them() -> None:
    base, pool, encoder = niceness_after(0)
    assert (pool, encoder) == (base, base + 3), "without steps only the encoder thread yields"
    assert niceness_after(5) == [base + 5, base + 5, base + 8], "process, a pool thread, the encoder thread"


def test_the_default_is_five_steps_and_out_of_range_is_refused() -> None:
    assert load_settings().worker_nice == 5
    with pytest.raises(ConfigError, match="WORKER_NICE"):
        load_settings(worker_nice=20)
