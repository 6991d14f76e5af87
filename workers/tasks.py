"""Celery tasks: thin. Take an id, run the shared job coroutine, declare what is retried."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.errors import LockTimeout, NotFound, SentNotRecorded, TransientStoreError
from workers import bridge, jobs
from workers.celery_app import ADMIN_COMMAND, CHECK_SLA, DELIVER, DESK_SYNC, PROCESS_INBOUND, RETENTION, RETRAIN, SWEEP

log = logging.getLogger(__name__)

_RETRY = {
    # Redis errors too: a lock or rate-limit call that failed leaves nothing half-done (the outbox
    # and the message's status make a re-run harmless), so the job runs again, not the sweep.
    "autoretry_for": (LockTimeout, TransientStoreError, ConnectionError, OSError, RedisConnectionError, RedisTimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 10,
}


@shared_task(name=PROCESS_INBOUND, **_RETRY)
def process_inbound(message_id: int) -> int:
    try:
        return bridge.run(lambda services: jobs.process_inbound(services, message_id))
    except SentNotRecorded as exc:  # the turn's reply went out unrecorded: see `RecordReceipt`
        args, kwargs = jobs.RecordReceipt.after(exc).deliver_args()
        deliver.apply_async(args=args, kwargs=kwargs, countdown=1)
        return 1
    except NotFound:
        log.warning("process_inbound: message %s does not exist; dropped", message_id)
        return 0


@shared_task(name=DELIVER, bind=True, **_RETRY)
def deliver(self: Task, outbound_id: int, sent_as: str | None = None) -> int:
    try:
        return bridge.run(lambda services: jobs.deliver(services, outbound_id, sent_as))
    except SentNotRecorded as exc:  # see `RecordReceipt`: the retry records, never re-sends
        args, kwargs = jobs.RecordReceipt.after(exc).deliver_args()
        countdown = min(_RETRY["retry_backoff_max"], 2**self.request.retries)
        raise self.retry(args=args, kwargs=kwargs, exc=exc, countdown=countdown)
    except NotFound:
        log.warning("deliver: outbound %s does not exist; dropped", outbound_id)
        return 0


@shared_task(name=DESK_SYNC, **_RETRY)
def desk_sync(handoff_id: int) -> int:
    try:
        return bridge.run(lambda services: jobs.desk_sync(services, handoff_id))
    except NotFound:
        log.warning("desk_sync: handoff %s does not exist; dropped", handoff_id)
        return 0


@shared_task(name=CHECK_SLA, **_RETRY)
def check_sla() -> int:
    return bridge.run(jobs.check_sla)


@shared_task(name=SWEEP, **_RETRY)
def sweep() -> int:
    return bridge.run(jobs.sweep)


@shared_task(name=ADMIN_COMMAND)  # not retried: a re-run could apply a command (kb add) twice
def admin_command(audit_id: int) -> int:
    try:
        return bridge.run(lambda services: jobs.admin_command(services, audit_id))
    except NotFound:
        log.warning("admin_command: audit row %s does not exist; dropped", audit_id)
        return 0


@shared_task(name=RETRAIN)  # not retried: the next interval is the retry
def retrain() -> int:
    return bridge.run(jobs.retrain)


@shared_task(name=RETENTION, **_RETRY)  # a re-run deletes nothing twice: what is gone is gone
def retention() -> int:
    return bridge.run(jobs.retention)
