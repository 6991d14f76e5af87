"""The periodic SLA check without Celery beat: each csbot worker asks for it on a timer, and with
in-process jobs the web process runs it itself."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from bots.web import sla_ticker
from tests.handoff.support import ONCALL, DeskSystem, eventually
from workers import celery_app


class RecordingApp:
    def __init__(self, every: float) -> None:
        self.conf = {"csbot_sla_check_seconds": every}
        self.sent: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def send_task(self, name: str, *, queue: str, **_: Any) -> None:
        with self.lock:
            self.sent.append((name, queue))


def test_a_ready_worker_asks_for_the_periodic_jobs_until_it_shuts_down() -> None:
    app = RecordingApp(every=0.05)
    celery_app._start_sla_ticker(sender=SimpleNamespace(app=app))
    time.sleep(0.3)
    celery_app._stop_sla_tickers()
    asked = len(app.sent)
    time.sleep(0.2)
    assert asked >= 2 and set(app.sent) == {
        (celery_app.CHECK_SLA, celery_app.OUTBOUND_QUEUE),
        (celery_app.SWEEP, celery_app.OUTBOUND_QUEUE),
        (celery_app.RETRAIN, celery_app.LEARNING_QUEUE),
        (celery_app.RETENTION, celery_app.OUTBOUND_QUEUE),
    }
    # The retrain and the retention job are asked for once, on the first tick (then hourly), the
    # checks on every tick.
    assert app.sent.count((celery_app.RETRAIN, celery_app.LEARNING_QUEUE)) == 1
    assert app.sent.count((celery_app.RETENTION, celery_app.OUTBOUND_QUEUE)) == 1
    assert len(app.sent) <= asked + 2  # stopped (one tick, two requests, may have been in flight)


def test_an_app_without_the_setting_starts_no_ticker() -> None:
    app = RecordingApp(every=0)
    celery_app._start_sla_ticker(sender=SimpleNamespace(app=app))
    time.sleep(0.1)
    assert app.sent == []


async def test_the_web_process_runs_the_check_with_in_process_jobs(desk: DeskSystem) -> None:
    await desk.telegram_message("agent please")
    await desk.settle()
    [handoff] = await desk.handoffs()
    service = desk.runtime.services.desk
    created = (await service.handoffs.get_handoff(handoff["id"])).created_at
    service._clock = lambda: created + timedelta(hours=1)  # the SLA has long passed
    ticker = asyncio.create_task(sla_ticker(desk.runtime, every=0.05))
    try:
        await eventually(lambda: desk.twilio.sent_to(ONCALL), timeout=10)
        await asyncio.sleep(0.3)  # several more ticks
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
    await desk.settle()
    assert len(desk.twilio.sent_to(ONCALL)) == 1
