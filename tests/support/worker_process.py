"""A real worker process for tests that kill it: start it, find its pool children, wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def worker_env(database_url: str, redis_url: str, llm_url: str, bot: Path, **extra: str) -> dict[str, str]:
    """The test's own environment without any csbot setting, plus the ones given."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "CSBOT_", "DATABASE_", "REDIS_", "CELERY_"))}
    return {
        **kept, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LLM_BASE_URL": llm_url,
        "CSBOT_BOT": str(bot), "CSBOT_NAMESPACE": os.environ.get("CSBOT_NAMESPACE", ""), "PYTHONPATH": str(ROOT),
        **extra,
    }


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """`python -m tests.support.worker_main [args]` in a session of its own (killed as a group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.worker_main", *args],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop_worker(worker: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
    """Send `sig` to the worker's process group; SIGKILL it if it has not exited in `timeout`."""
    try:
        os.killpg(worker.pid, sig)
        worker.wait(timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
