"""The Celery app: two queues, late acks, redelivery of jobs lost with a worker.

Why these settings (see the Celery docs on Redis): `acks_late` alone does not bring back a
task whose worker process was killed, `task_reject_on_worker_lost` does; jobs are idempotent
(dedupe keys and the outbox make a re-run harmless), so redelivery is safe. The Redis
`visibility_timeout` must exceed the slowest job, or a job still running is handed to a
second worker.
"""

from __future__ import annotations

from celery import Celery

INBOUND_QUEUE = "inbound"
OUTBOUND_QUEUE = "outbound"
PROCESS_INBOUND = "csbot.process_inbound"
DELIVER = "csbot.deliver"


def celery_config(redis_url: str, *, visibility_timeout: int) -> dict[str, object]:
    transport = {"visibility_timeout": visibility_timeout}
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
        "task_default_queue": INBOUND_QUEUE,
        "task_routes": {PROCESS_INBOUND: {"queue": INBOUND_QUEUE}, DELIVER: {"queue": OUTBOUND_QUEUE}},
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
    }


def create_celery(redis_url: str, *, visibility_timeout: int = 3600) -> Celery:
    app = Celery("csbot", set_as_current=True)
    app.conf.update(celery_config(redis_url, visibility_timeout=visibility_timeout))
    import workers.tasks  # noqa: F401  (registers the shared tasks on this app)

    return app


class CeleryJobs:
    """A `JobQueue` that sends job ids to the Celery queues."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def enqueue_inbound(self, message_id: int) -> None:
        self._app.send_task(PROCESS_INBOUND, args=(message_id,), queue=INBOUND_QUEUE)

    def enqueue_delivery(self, outbound_id: int, *, delay: float = 0.0) -> None:
        self._app.send_task(DELIVER, args=(outbound_id,), queue=OUTBOUND_QUEUE, countdown=delay or None)
