"""Pipeline benchmark: csbot's whole path against a bare stack, both measured in the same run.

    python -m infra.bench.pipeline [--messages 200] [--llm-latency 2] [--concurrency N] [--parallel 200] [--workers 1]

* pipeline: HTTP POST to `csbot serve` (a bench intake channel beside the platform ones) →
  intake (dedupe + persist) → Redis/Celery → `csbot worker` (its app and pool, defaults unless
  --concurrency; --workers such processes) → turn (understanding, retrieval, prompt, huggingface_hub client → a local fake
  LLM server with a fixed latency) → outbox → delivery → a channel that timestamps each reply.
* bare: HTTP POST to a FastAPI handler that enqueues a Celery task doing one Redis write, on a
  Celery thread pool of the same size (as many worker processes).

Every run has its own namespace (`CSBOT_NAMESPACE`: Redis keys and queue names) and its own
platform message ids, so a reused database or Redis never dedupes or mixes a run's messages;
only the run's own keys are deleted at the end. Each message is its own conversation, all
posted at once up to --parallel. Prints both throughputs and their ratio, reply latencies, the
webhook ack latency of the burst, and the ack under load: after the burst, the worker is paused
(SIGSTOP) while a backlog (--backlog, default --messages) is posted, then resumed, and while it
drains that backlog a probe posts one webhook at a time, every --probe-interval seconds, at most
--probes: what a platform sees while the worker runs at full load on the same machine, without
the web process's own queue of a burst's posts,
generations in flight at the LLM server (the most seen at once), the worker's RSS before and
after, replies per message, and understanding's own cost per message (the worker's batching
encoder: its seconds per text; and encoder + intent model + NLU for one message on one thread,
measured here after the stacks stopped). `--lexical` runs the pipeline without the encoder, so
its ratio is the pipeline's own overhead, understanding's cost printed beside. The periodic
intent retrain is off in both stacks (minutes of CPU that would land inside a run). Needs Redis
(`BENCH_REDIS_URL`); uses PostgreSQL when `BENCH_DATABASE_URL` is set, else a SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import httpx
import redis
import yaml

from bots.handoff_wiring import make_nlu
from bots.runtime import make_knowledge
from core.botdef import load_bot
from infra.bench.worker import done_key, encoder_key
from infra.db.migrate import upgrade
from infra.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
BENCH_BOT = ROOT / "bots" / "acme_bank"
QUESTIONS = ["I lost my card", "how much does an international transfer cost?", "我的账户被盗了，该怎么办？",
             "what are your opening hours"]


@dataclass(frozen=True)
class Result:
    name: str
    seconds: float
    latencies: list[float]
    acks: list[float]
    probe_acks: list[float]
    duplicates: int

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def line(self) -> str:
        return (f"{self.name:<9} {len(self.latencies)} answered in {self.seconds:6.2f}s  {self.throughput:8.1f} msg/s  "
                f"reply p50 {quantile(self.latencies, 50) * 1000:7.1f} ms  p99 {quantile(self.latencies, 99) * 1000:7.1f} ms  "
                f"burst ack p50 {quantile(self.acks, 50) * 1000:6.1f} ms  p99 {quantile(self.acks, 99) * 1000:6.1f} ms  "
                f"{self.loaded()}  duplicates {self.duplicates}")

    def loaded(self) -> str:
        if not self.probe_acks:
            return "ack under load: no probes"
        return (f"ack under load p50 {quantile(self.probe_acks, 50) * 1000:6.1f} ms  "
                f"p99 {quantile(self.probe_acks, 99) * 1000:6.1f} ms (n={len(self.probe_acks)})")


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    quiet = None if os.environ.get("BENCH_VERBOSE") else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, start_new_session=True, stdout=quiet, stderr=quiet)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()


def rss_mib(pid: int) -> float:
    """Resident memory of one process, from /proc (the worker is one process: a thread pool)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Replies:
    """Reads `<id>|<time>` records off the run's done list, remembering every copy."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self._client, self._key = client, key
        self.at: dict[str, float] = {}
        self.copies: Counter[str] = Counter()

    def wait(self, keys: list[str], timeout: float) -> None:
        end = time.monotonic() + timeout
        while any(k not in self.at for k in keys):
            if time.monotonic() > end:
                got = sum(1 for k in keys if k in self.at)
                raise RuntimeError(f"only {got} of {len(keys)} replies arrived within {timeout:g}s")
            item = self._client.blpop([self._key], timeout=1)
            if item:
                key, at = item[1].decode().split("|")
                self.copies[key] += 1
                self.at.setdefault(key, float(at))

    def settle(self, seconds: float = 2.0) -> None:
        """Keep reading a little: a duplicate reply would arrive now."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            item = self._client.blpop([self._key], timeout=max(1, int(left)))
            if item:
                key, _ = item[1].decode().split("|")
                self.copies[key] += 1


RESENDS = 3  # a connection the server dropped is posted again, as a platform redelivers


async def post_all(port: int, bodies: list[dict[str, str]], parallel: int) -> tuple[dict[str, float], list[float]]:
    """POST every body, `parallel` at once; returns (sent time per id, ack latencies). The load
    comes from aiohttp, `parallel` connections each posting its share in turn: it costs a fraction
    of the CPU per request that an httpx client pooling hundreds of connections did, which on
    this machine limited what was measured. A post whose connection the server closed is sent
    again on a new one (the ack counts from the first try); how many were resent is printed,
    since it says the web process was saturated."""
    sent_at: dict[str, float] = {}
    acks: list[float] = []
    resent = 0
    queue = iter(bodies)
    url = f"http://127.0.0.1:{port}/webhooks/bench"
    connector = aiohttp.TCPConnector(limit=parallel)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        async def connection() -> None:
            nonlocal resent
            for body in queue:
                sent_at[body["id"]] = time.time()
                started = time.perf_counter()
                for attempt in range(RESENDS + 1):
                    try:
                        async with http.post(url, json=body) as response:
                            await response.read()
                            break
                    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
                        if attempt == RESENDS:
                            raise
                        resent += 1
                acks.append(time.perf_counter() - started)
                response.raise_for_status()

        await asyncio.gather(*(connection() for _ in range(min(parallel, len(bodies)))))
    if resent:
        print(f"  ({resent} posts sent again after the server closed their connection)", flush=True)
    return sent_at, acks


async def probe_acks(port: int, prefix: str, stop: asyncio.Event, interval: float, most: int) -> tuple[list[str], list[float]]:
    """One webhook at a time, every `interval` seconds, until `stop` or `most` of them: their
    ack latencies. Bounded, so the probes add a known, small load (each is a turn too)."""
    ids: list[str] = []
    acks: list[float] = []
    while not stop.is_set() and len(ids) < most:
        body = {"id": f"{prefix}{len(ids)}", "text": QUESTIONS[len(ids) % len(QUESTIONS)]}
        # A connection of its own each time, as a platform's retrying sender: a kept-alive one
        # can lose the race with the server's idle timeout on a machine this loaded.
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            started = time.perf_counter()
            async with http.post(f"http://127.0.0.1:{port}/webhooks/bench", json=body) as response:
                await response.read()
            acks.append(time.perf_counter() - started)
        response.raise_for_status()
        ids.append(body["id"])
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass
    return ids, acks


async def phase(name: str, port: int, bodies: list[dict[str, str]], replies: Replies, parallel: int,
                timeout: float) -> Result:
    """The burst of `bodies`, timed from its first post to its last reply."""
    started = time.time()
    sent_at, acks = await post_all(port, bodies, parallel)
    keys = list(sent_at)
    await asyncio.to_thread(replies.wait, keys, timeout)
    await asyncio.to_thread(replies.settle)
    last = max(replies.at[k] for k in keys)
    duplicates = sum(replies.copies[k] - 1 for k in keys)
    return Result(name, last - started, [replies.at[k] - sent_at[k] for k in keys], acks, [], duplicates)


async def loaded_acks(port: int, workers: list[subprocess.Popen[bytes]], backlog: list[dict[str, str]], replies: Replies,
                      parallel: int, timeout: float, interval: float, most: int) -> tuple[list[float], int]:
    """Webhook acks while the workers drain a backlog: they are paused (SIGSTOP) while the
    backlog is posted, so the web process is idle again when probing starts and the workers are
    at full load for as long as the backlog lasts. Returns the probe acks and duplicates."""
    for worker in workers:
        os.kill(worker.pid, signal.SIGSTOP)
    try:
        await post_all(port, backlog, parallel)
    finally:
        for worker in workers:
            os.kill(worker.pid, signal.SIGCONT)
    stop = asyncio.Event()
    probing = asyncio.create_task(probe_acks(port, f"{backlog[0]['id']}q", stop, interval, most))
    keys = [b["id"] for b in backlog]
    await asyncio.to_thread(replies.wait, keys, timeout)
    stop.set()
    probe_ids, probed = await probing
    await asyncio.to_thread(replies.wait, probe_ids, timeout)
    await asyncio.to_thread(replies.settle)
    return probed, sum(replies.copies[k] - 1 for k in [*keys, *probe_ids])


async def under_load(result: Result, stack: Stack, backlog: list[dict[str, str]], replies: Replies,
                     args: argparse.Namespace, timeout: float) -> Result:
    """`result` with the stack's acks under load (none with --probes 0)."""
    if not args.probes:
        return result
    probed, duplicates = await loaded_acks(stack.port, stack.workers, backlog, replies, args.parallel, timeout,
                                           args.probe_interval, args.probes)
    return replace(result, probe_acks=probed, duplicates=result.duplicates + duplicates)


class Stack:
    """One web process and `workers` worker processes of a mode (`bare` or `pipeline`)."""

    def __init__(self, mode: str, env: dict[str, str], concurrency: int | None, workers: int = 1) -> None:
        self.port = free_port()
        extra = [f"--concurrency={concurrency}"] if concurrency else []
        self.workers = [spawn(["-m", "infra.bench.worker", mode, *extra, f"--node=bench{i + 1}"], env)
                        for i in range(workers)]
        self.web = spawn(["-m", "infra.bench.serve", mode, f"--port={self.port}"], env)

    def __enter__(self) -> Stack:
        wait_port(self.port, self.web)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.web)
        for worker in self.workers:
            stop(worker)

    def rss_mib(self) -> list[float]:
        return [rss_mib(worker.pid) for worker in self.workers]


def llm_stats(port: int, reset: bool = False) -> dict[str, int]:
    method = "POST" if reset else "GET"
    return dict(httpx.request(method, f"http://127.0.0.1:{port}/stats" + ("/reset" if reset else "")).json())


async def run(args: argparse.Namespace) -> None:
    run_id = uuid.uuid4().hex[:8]
    namespace = f"bench-{run_id}"
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    tmp = Path(tempfile.mkdtemp(prefix="csbot-bench-"))
    database_url = os.environ.get("BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp}/bench.db")
    llm_port = free_port()
    bot = lexical_copy(BENCH_BOT, tmp) if args.lexical else BENCH_BOT
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url, "CSBOT_BOT": str(bot),
           "LLM_BASE_URL": f"http://127.0.0.1:{llm_port}", "CSBOT_NAMESPACE": namespace, "PYTHONPATH": str(ROOT),
           "RETRAIN_INTERVAL_HOURS": "0"}  # a retrain is minutes of CPU: it would land inside the run
    settings = load_settings(redis_url=redis_url, csbot_namespace=namespace)
    client = redis.Redis.from_url(redis_url)
    replies = Replies(client, done_key(settings))
    upgrade(database_url)
    llm = spawn(["-c", f"from infra.bench.fake_llm import serve; serve({llm_port}, {args.llm_latency})"], env)
    try:
        wait_port(llm_port, llm)
        with Stack("bare", env, args.concurrency, args.workers) as bare_stack:
            await phase("warm-up", bare_stack.port, [{"id": f"{run_id}-wb", "text": "-"}], replies, 1, 120)
            bare = await phase("bare", bare_stack.port, bodies(f"{run_id}-b", args.messages), replies, args.parallel, 300)
            bare = await under_load(bare, bare_stack, bodies(f"{run_id}-bl", args.backlog or args.messages), replies,
                                    args, 300)
        with Stack("pipeline", env, args.concurrency, args.workers) as pipe_stack:
            warm = [{"id": f"{run_id}-wp{i}", "text": q} for i, q in enumerate(QUESTIONS)]
            await phase("warm-up", pipe_stack.port, warm, replies, len(warm), 300)
            rss_before = pipe_stack.rss_mib()
            llm_stats(llm_port, reset=True)
            encoder_before = encoder_stats(client, settings)
            pipe = await phase("pipeline", pipe_stack.port, bodies(f"{run_id}-p", args.messages), replies, args.parallel,
                               900)
            in_flight = llm_stats(llm_port)["max_in_flight"]
            rss_after = pipe_stack.rss_mib()
            pipe = await under_load(pipe, pipe_stack, bodies(f"{run_id}-pl", args.backlog or args.messages), replies,
                                    args, 900)
            encoder = encoder_stats(client, settings) - encoder_before
    finally:
        stop(llm)
        keys = list(client.scan_iter(match=f"{namespace}:*", count=500))
        if keys:
            client.delete(*keys)
        client.close()

    database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    print(f"messages={args.messages} llm_latency={args.llm_latency * 1000:.0f}ms parallel={args.parallel} "
          f"workers={args.workers} worker_concurrency={args.concurrency or 'default (LLM_MAX_CONCURRENCY=' + str(settings.llm_max_concurrency) + ')'} "
          f"database={database} understanding={'lexical (no encoder)' if args.lexical else 'hybrid (e5-small)'} "
          f"probes={args.probes} every {args.probe_interval:g}s namespace={namespace}")
    for result in (bare, pipe):
        print(result.line())
    print(f"pipeline: max generations in flight at the LLM server {in_flight}; "
          f"worker RSS {_mib(rss_before)} MiB before, {_mib(rss_after)} MiB after")
    print(f"understanding: worker's batching encoder {encoder.line()}; "
          f"one message alone on one thread (here, stacks stopped): {understanding_ms(bot, database_url)}")
    print(f"ratio pipeline/bare throughput: {pipe.throughput / bare.throughput:.3f}")
    print(f"ratio pipeline/bare p50 latency: {statistics.median(pipe.latencies) / statistics.median(bare.latencies):.1f}x")


def _mib(values: list[float]) -> str:
    return " + ".join(f"{v:.0f}" for v in values)


@dataclass(frozen=True)
class EncoderStats:
    texts: int = 0
    calls: int = 0
    seconds: float = 0.0

    def __sub__(self, other: EncoderStats) -> EncoderStats:
        return EncoderStats(self.texts - other.texts, self.calls - other.calls, self.seconds - other.seconds)

    def line(self) -> str:
        if not self.texts:
            return "not used"
        return (f"{self.seconds / self.texts * 1000:.1f} ms per text ({self.texts} texts in {self.calls} calls, "
                f"{self.texts / self.calls:.1f} a call)")


def encoder_stats(client: redis.Redis, settings: Settings) -> EncoderStats:
    raw = {k.decode(): v.decode() for k, v in client.hgetall(encoder_key(settings)).items()}
    if not raw:
        return EncoderStats()
    return EncoderStats(int(raw["texts"]), int(raw["calls"]), float(raw["seconds"]))


def understanding_ms(bot_folder: Path, database_url: str) -> str:
    """p50 of one message's understanding (NLU with the intent model, and retrieval with its
    encoder call), serially on this thread: the CPU a turn costs before its generation."""
    bot = load_bot(bot_folder)
    knowledge, nlu = make_knowledge(bot), make_nlu(bot, database_url)
    texts = [f"{q} ({i})" for i in range(10) for q in QUESTIONS]  # distinct texts: nothing cached
    classified = nlu.analyze(texts[0]).classified
    knowledge.search(texts[0])
    timings = []
    for text in texts:
        started = time.perf_counter()
        nlu.analyze(text)
        knowledge.search(text, top_k=bot.definition.retrieval.top_k)
        timings.append(time.perf_counter() - started)
    model = "with" if classified else "without"
    return f"{statistics.median(timings) * 1000:.1f} ms p50 ({model} an intent model)"


def lexical_copy(bot: Path, tmp: Path) -> Path:
    """The bench bot without its encoder: retrieval by words only, at the lexical default threshold."""
    copy = tmp / bot.name
    shutil.copytree(bot, copy)
    definition = yaml.safe_load((copy / "bot.yaml").read_text(encoding="utf-8"))
    for key in ("encoder", "min_score", "min_score_by_language"):  # the thresholds are on the fused scale
        definition["retrieval"].pop(key, None)
    (copy / "bot.yaml").write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    return copy


def bodies(prefix: str, count: int) -> list[dict[str, str]]:
    """Fresh platform ids (the prefix holds the run id): a reused database dedupes nothing."""
    return [{"id": f"{prefix}{i}", "text": QUESTIONS[i % len(QUESTIONS)]} for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--llm-latency", type=float, default=0.05, help="seconds the fake LLM server takes per answer")
    parser.add_argument("--concurrency", type=int, default=None, help="worker pool size (default: csbot worker's own)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per stack (one per core scales out)")
    parser.add_argument("--parallel", type=int, default=200, help="webhook posts in flight at once")
    parser.add_argument("--probe-interval", type=float, default=0.1, help="seconds between probe webhooks")
    parser.add_argument("--probes", type=int, default=200, help="probe webhooks at most (0: none)")
    parser.add_argument("--backlog", type=int, default=0,
                        help="messages the worker drains while the probes run (default: --messages)")
    parser.add_argument("--lexical", action="store_true", help="the pipeline without its encoder (words only)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
