"""The Celery app: two queues, late acks, redelivery of jobs lost with a worker.

Why these settings (see the Celery docs on Redis): `acks_late` alone does not bring back a
task whose worker process was killed, `task_reject_on_worker_lost` does; jobs are idempotent
(dedupe keys and the outbox make a re-run harmless), so redelivery is safe. The Redis
`visibility_timeout` must exceed the slowest job, or a job still running is handed to a
second worker.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown, worker_shutting_down

from workers import bridge
from workers.publisher import Publisher

log = logging.getLogger(__name__)

INBOUND_QUEUE = "inbound"
OUTBOUND_QUEUE = "outbound"
# Long CPU-bound work (retraining) gets its own queue so it never delays a customer's answer.
LEARNING_QUEUE = "learning"
PROCESS_INBOUND = "csbot.process_inbound"
DELIVER = "csbot.deliver"
DESK_SYNC = "csbot.desk_sync"
CHECK_SLA = "csbot.check_sla"
SWEEP = "csbot.sweep"
RETRAIN = "csbot.retrain"
RETENTION = "csbot.retention"
ADMIN_COMMAND = "csbot.admin_command"
# How often each worker asks for the handoff SLA check. Several workers asking is harmless: the
# check pages each overdue handoff once (a compare-and-set on its paged_at).
SLA_CHECK_SECONDS = 30.0
# The retrain is asked for on the first tick, then hourly: it is due once a day at most, and a
# queue nobody reads (a worker started without `learning`) then grows by a message an hour, not
# by one every 30 s in a Redis that must never evict.
RETRAIN_ASK_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Queues:
    """The queue names of one namespace, and the Redis keys they live under.

    A namespace (`CSBOT_NAMESPACE`) lets several deployments, or several test runs, share one
    Redis database without seeing each other's jobs: every key kombu writes is prefixed
    (`global_keyprefix`), and the queue names carry the namespace too, so a worker of one
    namespace never consumes another's queue even if it was started without the prefix.
    """

    namespace: str = ""

    def _name(self, role: str) -> str:
        return f"{self.namespace}.{role}" if self.namespace else role

    @property
    def inbound(self) -> str:
        return self._name(INBOUND_QUEUE)

    @property
    def outbound(self) -> str:
        return self._name(OUTBOUND_QUEUE)

    @property
    def learning(self) -> str:
        return self._name(LEARNING_QUEUE)

    @property
    def key_prefix(self) -> str:
        """What every Redis key of this namespace starts with (kombu's and ours alike)."""
        return f"{self.namespace}:" if self.namespace else ""

    def by_role(self) -> dict[str, str]:
        return {INBOUND_QUEUE: self.inbound, OUTBOUND_QUEUE: self.outbound, LEARNING_QUEUE: self.learning}

    def redis_key(self, role: str) -> str:
        """The Redis list holding the queue with this role (`inbound`, `outbound`, `learning`)."""
        return self.key_prefix + self.by_role()[role]


def celery_config(redis_url: str, *, visibility_timeout: int, queues: Queues = Queues()) -> dict[str, object]:
    transport: dict[str, object] = {"visibility_timeout": visibility_timeout}
    if queues.key_prefix:
        transport["global_keyprefix"] = queues.key_prefix
    return {
        "broker_url": redis_url,
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": queues.inbound,
        "task_routes": {
            PROCESS_INBOUND: {"queue": queues.inbound},
            ADMIN_COMMAND: {"queue": queues.inbound},
            DELIVER: {"queue": queues.outbound},
            DESK_SYNC: {"queue": queues.outbound},
            CHECK_SLA: {"queue": queues.outbound},
            SWEEP: {"queue": queues.outbound},
            RETRAIN: {"queue": queues.learning},
            RETENTION: {"queue": queues.outbound},
        },
        "csbot_queues": queues,
        "csbot_sla_check_seconds": SLA_CHECK_SECONDS,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
    }


def create_celery(redis_url: str, *, visibility_timeout: int = 3600, namespace: str = "") -> Celery:
    app = Celery("csbot", set_as_current=True)
    app.conf.update(celery_config(redis_url, visibility_timeout=visibility_timeout, queues=Queues(namespace)))
    import workers.tasks  # noqa: F401  (registers the shared tasks on this app)

    return app


class CeleryJobs:
    """A `JobQueue` that sends job ids to the Celery queues, from its publisher thread (see
    `workers.publisher`: enqueueing never blocks the event loop that calls it)."""

    def __init__(self, app: Celery) -> None:
        self._app = app
        self._queues: Queues = queues_of(app)
        self._publisher = Publisher()

    def enqueue_inbound(self, message_id: int) -> None:
        self._send(PROCESS_INBOUND, (message_id,), self._queues.inbound)

    def enqueue_delivery(self, outbound_id: int, *, delay: float = 0.0) -> None:
        self._send(DELIVER, (outbound_id,), self._queues.outbound, delay)

    def enqueue_desk(self, handoff_id: int, *, delay: float = 0.0) -> None:
        self._send(DESK_SYNC, (handoff_id,), self._queues.outbound, delay)

    def enqueue_admin(self, audit_id: int) -> None:
        self._send(ADMIN_COMMAND, (audit_id,), self._queues.inbound)

    def flush(self, timeout: float = 10.0) -> bool:
        """Send what is still held (a process that stops calls this)."""
        return self._publisher.flush(timeout)

    def _send(self, task: str, args: tuple[int], queue: str, delay: float = 0.0) -> None:
        self._publisher.submit(lambda: self._app.send_task(task, args=args, queue=queue, countdown=delay or None))


def queues_of(app: Celery) -> Queues:
    return app.conf.get("csbot_queues") or Queues()


# --- the periodic SLA check, without Celery beat -------------------------------------------------
# A beat process is one more thing to deploy and keep single; instead every csbot worker, once
# ready, asks for the check on a timer until it shuts down.

_tickers: dict[int, threading.Event] = {}


@worker_ready.connect
def _start_sla_ticker(sender: Any = None, **_: Any) -> None:
    app = getattr(sender, "app", None)
    every = app.conf.get("csbot_sla_check_seconds") if app is not None else None
    if not every:
        return
    stop = threading.Event()
    _tickers[id(sender)] = stop
    queues = queues_of(app)

    def tick() -> None:
        retrain_asked = -RETRAIN_ASK_SECONDS
        while not stop.wait(float(every)):
            try:
                app.send_task(CHECK_SLA, queue=queues.outbound)
                app.send_task(SWEEP, queue=queues.outbound)
                if time.monotonic() - retrain_asked >= RETRAIN_ASK_SECONDS:
                    app.send_task(RETRAIN, queue=queues.learning)  # runs only when due (a DB claim)
                    app.send_task(RETENTION, queue=queues.outbound)  # expiry is by the day: hourly is plenty
                    retrain_asked = time.monotonic()
            except Exception as exc:  # the broker is away; the next tick tries again
                log.warning("could not queue the periodic checks: %s", exc)

    threading.Thread(target=tick, name="csbot-sla-ticker", daemon=True).start()


@worker_shutting_down.connect
@worker_shutdown.connect
def _stop_sla_tickers(**_: Any) -> None:
    for stop in _tickers.values():
        stop.set()
    _tickers.clear()


@worker_shutdown.connect
def _close_shared_loop(**_: Any) -> None:
    """Sent after the pool has drained (a warm shutdown lets running jobs finish; a cold one
    leaves them unacked, and Redis hands them out again): the services can close now."""
    bridge.shutdown()
