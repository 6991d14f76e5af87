"""Pipeline benchmark: csbot's whole path against a bare Celery baseline, in the same run.

    python -m infra.bench.pipeline [--messages 200] [--llm-latency 0.05] [--concurrency 4]

* pipeline: POST to the real ASGI app → intake (dedupe + persist) → Redis/Celery → turn
  (retrieval, prompt, huggingface_hub client → a local fake LLM server with fixed latency)
  → outbox → deliver job → a channel that timestamps each reply.
* bare: POST to a minimal FastAPI handler that enqueues a Celery task doing one Redis write.

Each message is its own conversation. Prints both throughputs, their ratio and p50/p99
latencies (POST → reply recorded). Needs Redis; uses PostgreSQL when BENCH_DATABASE_URL is
set, else a SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
from celery import Celery
from fastapi import FastAPI

from bots.runtime import build_runtime
from bots.web import create_app
from channels.http import WebRequest, WebResponse
from channels.registry import CHANNELS
from channels.spec import ChannelSettings, ChannelSpec, Endpoint
from core.capabilities import PLAIN
from core.messages import InboundMessage
from infra.bench.worker import BARE_TASK, DONE_KEY
from infra.db.migrate import upgrade
from infra.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
BENCH_BOT = ROOT / "bots" / "acme_bank"


@dataclass(frozen=True)
class Result:
    name: str
    seconds: float
    latencies: list[float]

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def line(self) -> str:
        q = statistics.quantiles(self.latencies, n=100)
        return (f"{self.name:<9} {len(self.latencies)} msgs in {self.seconds:6.2f}s  "
                f"{self.throughput:8.1f} msg/s  p50 {q[49] * 1000:7.1f} ms  p99 {q[98] * 1000:7.1f} ms")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, start_new_session=True,
                            stdout=None if os.environ.get("BENCH_VERBOSE") else subprocess.DEVNULL, stderr=None if os.environ.get("BENCH_VERBOSE") else subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def collect(client: redis.Redis, sent_at: dict[str, float], timeout: float) -> tuple[float, list[float]]:
    """Wait for every reply; returns (time of the last one, latencies)."""
    done: dict[str, float] = {}
    end = time.monotonic() + timeout
    while len(done) < len(sent_at):
        if time.monotonic() > end:
            raise RuntimeError(f"only {len(done)} of {len(sent_at)} replies arrived within {timeout}s")
        item = client.blpop([DONE_KEY], timeout=1)
        if item:
            key, at = item[1].decode().split("|")
            done.setdefault(key, float(at))
    return max(done.values()), [done[k] - sent_at[k] for k in sent_at]


async def post_all(app: object, path: str, bodies: list[dict[str, str]], keys: list[str], parallel: int) -> dict[str, float]:
    sent_at: dict[str, float] = {}
    semaphore = asyncio.Semaphore(parallel)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        async def one(body: dict[str, str], key: str) -> None:
            async with semaphore:
                sent_at[key] = time.time()
                response = await http.post(path, json=body)
                response.raise_for_status()

        await asyncio.gather(*(one(b, k) for b, k in zip(bodies, keys, strict=True)))
    return sent_at


async def warm_up(app: object, path: str, bodies: list[dict[str, str]], client: redis.Redis) -> None:
    """Wait until the worker is up and has answered once: start-up is not what we measure."""
    keys = [b["id"] for b in bodies]
    sent = await post_all(app, path, bodies, keys, len(bodies))
    await asyncio.to_thread(collect, client, sent, 120)


def bare_web(redis_url: str) -> FastAPI:
    celery = Celery("bench-bare", broker=redis_url)
    app = FastAPI()

    @app.post("/bare")
    async def bare(body: dict[str, str]) -> dict[str, bool]:
        celery.send_task(BARE_TASK, args=(body["id"],))
        return {"ok": True}

    return app


class BenchIntakeChannel:
    """Accepts `{"id", "text"}` JSON posts and replies on the `bench` channel name."""

    name = "bench"
    capabilities = PLAIN

    async def send(self, message):  # type: ignore[no-untyped-def]
        raise RuntimeError("the web side never sends")


class BenchSettings(ChannelSettings):
    pass


async def receive(channel: BenchIntakeChannel, intake: Any, request: WebRequest) -> WebResponse:
    body = json.loads(request.body)
    await intake.accept(InboundMessage("bench", body["id"], body["id"], "bench-user", body["text"]))
    return WebResponse.json({"ok": True})


# Mounted through the same channel seam as the platforms, so the web side measured is theirs.
BENCH_SPEC = ChannelSpec(
    name="bench", settings=BenchSettings, build=lambda _settings, _context: BenchIntakeChannel(),
    endpoints=(Endpoint("POST", "/webhooks/bench", receive),), capabilities=PLAIN,
)


async def run(args: argparse.Namespace) -> None:
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    tmp = Path(tempfile.mkdtemp(prefix="csbot-bench-"))
    database_url = os.environ.get("BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp}/bench.db")
    llm_port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url, "CSBOT_BOT": str(BENCH_BOT),
           "LLM_BASE_URL": f"http://127.0.0.1:{llm_port}", "PYTHONPATH": str(ROOT)}
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    upgrade(database_url)
    llm = spawn(["-c", f"from infra.bench.fake_llm import serve; serve({llm_port}, {args.llm_latency})"], env)
    wait_port(llm_port)
    questions = ["I lost my card", "how much does an international transfer cost?", "我的账户被盗了，该怎么办？", "what are your opening hours"]
    results: list[Result] = []
    worker: subprocess.Popen[bytes] | None = None
    try:
        # --- bare baseline ---------------------------------------------------------------
        worker = spawn(["-m", "infra.bench.worker", "bare", f"--concurrency={args.concurrency}"], env)
        bare_app = bare_web(redis_url)
        await warm_up(bare_app, "/bare", [{"id": "warm-b"}], client)
        keys = [f"b{i}" for i in range(args.messages)]
        started = time.time()
        sent = await post_all(bare_app, "/bare", [{"id": k} for k in keys], keys, args.parallel)
        last, lat = await asyncio.to_thread(collect, client, sent, 300)
        results.append(Result("bare", last - started, lat))
        stop(worker)

        # --- csbot pipeline --------------------------------------------------------------
        worker = spawn(["-m", "infra.bench.worker", "pipeline", f"--concurrency={args.concurrency}"], env)
        settings = load_settings(redis_url=redis_url, database_url=database_url, csbot_bot=BENCH_BOT,
                                 llm_base_url=f"http://127.0.0.1:{llm_port}")
        runtime = await build_runtime(settings, channels=[BenchIntakeChannel()], migrate=False, registry=(*CHANNELS, BENCH_SPEC))
        app = create_app(runtime)
        await warm_up(app, "/webhooks/bench", [{"id": f"warm-p{i}", "text": q} for i, q in enumerate(questions)], client)
        keys = [f"p{i}" for i in range(args.messages)]
        bodies = [{"id": k, "text": questions[i % len(questions)]} for i, k in enumerate(keys)]
        started = time.time()
        sent = await post_all(app, "/webhooks/bench", bodies, keys, args.parallel)
        last, lat = await asyncio.to_thread(collect, client, sent, 600)
        results.append(Result("pipeline", last - started, lat))
        await runtime.close()
        stop(worker)
    finally:
        if worker is not None and worker.poll() is None:
            stop(worker)
        stop(llm)
        client.close()

    bare, pipe = results
    print(f"messages={args.messages} llm_latency={args.llm_latency * 1000:.0f}ms worker_concurrency={args.concurrency} "
          f"database={'postgresql' if database_url.startswith('postgresql') else 'sqlite'}")
    for result in results:
        print(result.line())
    print(f"ratio pipeline/bare throughput: {pipe.throughput / bare.throughput:.3f}")
    print(f"ratio pipeline/bare p50 latency: {statistics.median(pipe.latencies) / statistics.median(bare.latencies):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--llm-latency", type=float, default=0.05, help="seconds the fake LLM server takes per answer")
    parser.add_argument("--concurrency", type=int, default=4, help="worker threads")
    parser.add_argument("--parallel", type=int, default=16, help="concurrent webhook posts")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
