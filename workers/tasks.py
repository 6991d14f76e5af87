"""Celery tasks: thin. Take an id, run the shared job coroutine, declare what is retried."""

from __future__ import annotations

import logging

from celery import shared_task

from core.errors import LockTimeout, NotFound
from workers import bridge, jobs
from workers.celery_app import DELIVER, PROCESS_INBOUND

log = logging.getLogger(__name__)

_RETRY = {
    "autoretry_for": (LockTimeout, ConnectionError, OSError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 10,
}


@shared_task(name=PROCESS_INBOUND, **_RETRY)
def process_inbound(message_id: int) -> int:
    try:
        return bridge.run(lambda services: jobs.process_inbound(services, message_id))
    except NotFound:
        log.warning("process_inbound: message %s does not exist; dropped", message_id)
        return 0


@shared_task(name=DELIVER, **_RETRY)
def deliver(outbound_id: int) -> int:
    try:
        return bridge.run(lambda services: jobs.deliver(services, outbound_id))
    except NotFound:
        log.warning("deliver: outbound %s does not exist; dropped", outbound_id)
        return 0
