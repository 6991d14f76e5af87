"""Webhook ack benchmark: how long a platform waits for our 200, against a bare handler.

    python -m infra.bench.webhook [--requests 2000] [--channel telegram|slack]

* csbot: a signed Telegram update (or a signed Slack DM event, served through slack-bolt)
  POSTed to the real ASGI app → signature check → parse → intake (dedupe + persist) → enqueue
  → 200. Jobs are queued, not run (the worker's side is what `infra.bench.pipeline` measures).
* bare: a FastAPI handler that reads the JSON body and returns 200.

Both run in this process through the same ASGI transport, one request at a time, so the ratio
is the cost of verify + persist + enqueue. Prints p50/p99 for each and their ratio. Uses
PostgreSQL when BENCH_DATABASE_URL is set, else SQLite; with BENCH_REDIS_URL the jobs go to
the real Celery queues on that Redis (purged afterwards: give it a database of its own), else
they are only counted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI, Request

from bots.runtime import build_runtime
from bots.web import create_app
from core.ports import JobQueue
from infra.db.migrate import upgrade
from infra.settings import load_settings
from workers.celery_app import CeleryJobs, create_celery

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:bench-token-0123456789abcdefghijklmnop"
SECRET = "bench-secret"
SLACK_SECRET = "bench-slack-signing-secret"


class Counted:
    """Counts what is enqueued, passing it on to the real queue when there is one: the bench
    measures the request path, not the turn, so no worker reads the queue."""

    def __init__(self, queue: JobQueue | None = None) -> None:
        self.enqueued = 0
        self.seconds: list[float] = []  # what each enqueue cost the request
        self._queue = queue

    def enqueue_inbound(self, message_id: int) -> None:
        self.enqueued += 1
        if self._queue is not None:
            started = time.perf_counter()
            self._queue.enqueue_inbound(message_id)
            self.seconds.append(time.perf_counter() - started)

    def enqueue_delivery(self, outbound_id: int, *, delay: float = 0.0) -> None:
        self.enqueued += 1
        if self._queue is not None:
            self._queue.enqueue_delivery(outbound_id, delay=delay)


def update(i: int) -> bytes:
    chat = {"id": 1000 + i % 50, "type": "private", "first_name": "Bench"}
    message = {"message_id": i, "date": int(time.time()), "chat": chat, "from": {"id": chat["id"], "is_bot": False, "first_name": "Bench"}, "text": "I lost my card"}
    return json.dumps({"update_id": 10_000 + i, "message": message}).encode()


def slack_event(i: int) -> bytes:
    event = {"type": "message", "channel": f"D{1000 + i % 50}", "channel_type": "im", "user": f"U{1000 + i % 50}",
             "text": "I lost my card", "ts": f"{1_700_000_000 + i}.000100"}
    return json.dumps({"type": "event_callback", "event_id": f"Ev{10_000 + i}", "team_id": "T1", "event": event,
                       "authorizations": [{"user_id": "UBOT", "is_bot": True}]}).encode()


def telegram_headers(body: bytes) -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}


def slack_headers(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": "application/json"}


@dataclass(frozen=True)
class Platform:
    path: str
    body: Callable[[int], bytes]
    headers: Callable[[bytes], dict[str, str]]
    settings: dict[str, str]


PLATFORMS = {
    "telegram": Platform("/webhooks/telegram", update, telegram_headers,
                         {"telegram_bot_token": TOKEN, "telegram_webhook_secret": SECRET, "telegram_api_url": "http://127.0.0.1:9"}),
    "slack": Platform("/webhooks/slack/events", slack_event, slack_headers,
                      {"slack_bot_token": "xoxb-bench", "slack_signing_secret": SLACK_SECRET, "slack_api_url": "http://127.0.0.1:9/api/"}),
}


def bare_app(path: str) -> FastAPI:
    app = FastAPI()

    @app.post(path)
    async def receive(request: Request) -> dict[str, bool]:
        await request.json()
        return {"ok": True}

    return app


async def timed(app: object, platform: Platform, n: int, offset: int) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:  # type: ignore[arg-type]
        for i in range(n):
            body = platform.body(offset + i)
            headers = platform.headers(body)
            started = time.perf_counter()
            response = await client.post(platform.path, content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"webhook answered {response.status_code}: {response.text}")
    return latencies


def line(name: str, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"{name:<6} {len(latencies)} requests  p50 {q[49] * 1000:6.2f} ms  p99 {q[98] * 1000:6.2f} ms  {len(latencies) / sum(latencies):8.1f} req/s"


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="csbot-bench-"))
    database_url = os.environ.get("BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp}/bench.db")
    upgrade(database_url)
    platform = PLATFORMS[args.channel]
    settings = load_settings(
        database_url=database_url, redis_url=None, csbot_bot=ROOT / "bots" / "acme_bank", llm_base_url=None,
        **platform.settings,
    )
    redis_url = os.environ.get("BENCH_REDIS_URL")
    celery = create_celery(redis_url) if redis_url else None
    jobs = Counted(CeleryJobs(celery) if celery is not None else None)
    runtime = await build_runtime(settings, platform_channels=True, jobs=jobs, migrate=False)
    csbot, bare = create_app(runtime), bare_app(platform.path)
    offset = int(time.time() * 1000) % 1_000_000_000  # fresh update ids on a reused database
    await timed(csbot, platform, 50, offset)  # warm-up: connections, caches
    await timed(bare, platform, 50, offset)
    ours = await timed(csbot, platform, args.requests, offset + 100)
    base = await timed(bare, platform, args.requests, offset + 100)
    await runtime.close()
    if celery is not None:
        celery.control.purge()  # nobody will run these jobs
    assert jobs.enqueued == 50 + args.requests, "every accepted update must be enqueued exactly once"
    database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    print(f"channel={args.channel} requests={args.requests} database={database} queue={'celery+redis' if celery else 'counted only'}")
    print(line("bare", base))
    print(line("csbot", ours))
    if jobs.seconds:
        q = statistics.quantiles(jobs.seconds[50:], n=100)
        print(f"enqueue {len(jobs.seconds) - 50} jobs  p50 {q[49] * 1000:6.2f} ms  p99 {q[98] * 1000:6.2f} ms")
    print(f"ratio csbot/bare p50 latency: {statistics.median(ours) / statistics.median(base):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--channel", choices=sorted(PLATFORMS), default="telegram")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
