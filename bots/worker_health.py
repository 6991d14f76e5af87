"""Worker liveness for Kubernetes: a file the worker's consumer keeps fresh, and the check a
probe runs (`csbot worker-probe`).

The file is touched by a timer on the Celery *consumer's* event loop, the loop that fetches
jobs: a worker whose consumer is wedged stops touching it and the probe fails, while a worker
merely busy with long turns keeps it fresh. The file only exists once the consumer has started,
so the same check serves readiness.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Final

from celery import Celery, bootsteps

HEALTH_FILE_ENV: Final = "CSBOT_WORKER_HEALTH_FILE"
DEFAULT_HEALTH_FILE: Final = Path("/tmp/csbot-worker-alive")
TOUCH_SECONDS: Final = 10.0
STALE_SECONDS: Final = 60.0


def health_file() -> Path:
    return Path(os.environ.get(HEALTH_FILE_ENV) or DEFAULT_HEALTH_FILE)


class HealthFile(bootsteps.StartStopStep):
    """A consumer step: touch the health file now and every `TOUCH_SECONDS`; remove it on stop."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.path = health_file()
        self.timer: Any = None

    def start(self, parent: Any) -> None:
        self.path.touch()
        self.timer = parent.timer.call_repeatedly(TOUCH_SECONDS, self.path.touch)

    def stop(self, parent: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.path.unlink(missing_ok=True)


def install(app: Celery) -> None:
    app.steps["consumer"].add(HealthFile)


def check(path: Path | None = None, *, stale_after: float = STALE_SECONDS) -> str | None:
    """None when the worker is alive; otherwise why not (for the probe's output)."""
    path = path or health_file()
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return f"{path} does not exist: the worker's consumer has not started"
    if age > stale_after:
        return f"{path} was last touched {age:.0f}s ago (more than {stale_after:.0f}s): the consumer is stuck"
    return None
