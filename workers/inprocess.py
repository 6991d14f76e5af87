"""In-process jobs: with no Redis, the same job coroutines run as background asyncio tasks.

Retries mirror the Celery tasks' policy (a busy conversation lock or a passing database
failure is retried with backoff), so behaviour does not depend on which runner is configured.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from core.errors import LockTimeout, NotFound, SentNotRecorded, TransientStoreError
from core.services import Services
from workers import jobs

log = logging.getLogger(__name__)
MAX_RETRIES = 5


class InProcessJobs:
    """A `JobQueue` that runs jobs on the current event loop. `bind` it to the services first."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def bind(self, services: Services) -> None:
        self._services = services

    def enqueue_inbound(self, message_id: int) -> None:
        self._spawn(lambda s: jobs.process_inbound(s, message_id), delay=0.0, name=f"inbound:{message_id}")

    def enqueue_delivery(self, outbound_id: int, *, delay: float = 0.0) -> None:
        self._spawn(lambda s: jobs.deliver(s, outbound_id), delay=delay, name=f"deliver:{outbound_id}")

    def enqueue_desk(self, handoff_id: int, *, delay: float = 0.0) -> None:
        self._spawn(lambda s: jobs.desk_sync(s, handoff_id), delay=delay, name=f"desk:{handoff_id}")

    def enqueue_admin(self, audit_id: int) -> None:
        self._spawn(lambda s: jobs.admin_command(s, audit_id), delay=0.0, name=f"admin:{audit_id}")

    def enqueue_sla_check(self) -> None:
        self._spawn(jobs.check_sla, delay=0.0, name="check_sla")

    def enqueue_sweep(self) -> None:
        self._spawn(jobs.sweep, delay=0.0, name="sweep")

    def enqueue_retention(self) -> None:
        self._spawn(jobs.retention, delay=0.0, name="retention")

    def _spawn(self, job: Callable[[Services], Awaitable[int]], *, delay: float, name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(job, delay, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Callable[[Services], Awaitable[int]], delay: float, name: str) -> None:
        if self._services is None:
            raise RuntimeError("InProcessJobs.bind(services) was not called")
        if delay > 0:
            await asyncio.sleep(delay)
        for attempt in range(MAX_RETRIES + 1):
            try:
                await job(self._services)
                return
            except SentNotRecorded as exc:  # see `RecordReceipt`: the retry records, never re-sends
                job = jobs.RecordReceipt.after(exc)
                await asyncio.sleep(random.uniform(0, 0.2 * 2**attempt))
            except (LockTimeout, TransientStoreError):
                await asyncio.sleep(random.uniform(0, 0.2 * 2**attempt))
            except NotFound:
                log.warning("job %s: record gone, dropped", name)
                return
            except Exception:
                log.exception("job %s failed", name)
                return
        log.error("job %s: conversation stayed locked or database unavailable after %d retries", name, MAX_RETRIES)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for every job (and the jobs they enqueue) to finish."""
        async def settle() -> None:
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

        await asyncio.wait_for(settle(), timeout)

