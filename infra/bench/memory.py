"""Memory benchmark: one worker's resident memory over many turns, against its own after 1,000.

    python -m infra.bench.memory [--turns 10000] [--conversations 100] [--hybrid]

One in-process runtime (no Redis: the same job coroutines and services a `csbot worker` runs,
on one event loop) answers `--turns` messages, `--conversations` of them in flight at a time,
each conversation receiving message after message (so history, locks and outbox rows grow as in
service), through the fake LLM server (`infra.bench.fake_llm`, no latency) and a channel that
only counts. RSS is read after every 1,000 turns; the baseline is the process's own RSS after
the first 1,000 (every pool, cache and lazily built model is in use by then). Prints each
checkpoint and the ratio end/baseline: flat is within ±10%. Without `--hybrid` the bot retrieves
by words only: the encoder's memory is fixed, and 10,000 encodes would take most of the run.
Uses PostgreSQL when BENCH_DATABASE_URL is set, else a SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bots.runtime import build_runtime
from core.capabilities import PLAIN
from core.messages import Delivered, InboundMessage, OutboundMessage
from infra.bench.pipeline import BENCH_BOT, QUESTIONS, free_port, lexical_copy, rss_mib, stop, wait_port
from infra.db.migrate import upgrade
from infra.settings import load_settings
from workers.inprocess import InProcessJobs

CHECKPOINT = 1000


@dataclass
class CountingChannel:
    """Receives every reply and keeps only the count: the bench must not grow memory itself."""

    name: str = "bench"
    capabilities: object = PLAIN
    sent: int = 0

    async def send(self, message: OutboundMessage) -> Delivered:
        self.sent += 1
        return Delivered(platform_message_id=str(message.id))


@dataclass
class Checkpoints:
    turns: list[int] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)

    def take(self, turns: int) -> None:
        gc.collect()
        self.turns.append(turns)
        self.rss.append(rss_mib(os.getpid()))

    @property
    def ratio(self) -> float:
        """RSS at the end over RSS at the first checkpoint."""
        return self.rss[-1] / self.rss[0]


async def run_turns(database_url: str, bot: Path, llm_url: str, *, turns: int, conversations: int,
                    every: int = CHECKPOINT) -> Checkpoints:
    """Answer `turns` messages in rounds of `conversations` at once; RSS after every `every`."""
    settings = load_settings(database_url=database_url, csbot_bot=str(bot), llm_base_url=llm_url, redis_url=None)
    channel = CountingChannel()
    runtime = await build_runtime(settings, channels=[channel], migrate=False)
    checkpoints = Checkpoints()
    try:
        done = 0
        while done < turns:
            batch = min(conversations, turns - done)
            for i in range(batch):
                n = done + i
                text = f"{QUESTIONS[n % len(QUESTIONS)]} #{n}"
                await runtime.services.intake.accept(
                    InboundMessage("bench", f"m{n}", f"c{n % conversations}", "bench-user", text))
            assert isinstance(runtime.jobs, InProcessJobs)
            await runtime.jobs.drain(timeout=600)
            done += batch
            if done % every == 0 or done == turns:
                checkpoints.take(done)
        if channel.sent != turns:
            raise RuntimeError(f"{channel.sent} replies for {turns} turns")
    finally:
        await runtime.close()
    return checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=100, help="turns in flight at once")
    parser.add_argument("--hybrid", action="store_true", help="retrieval with the encoder (slow: ~40 ms a turn)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="csbot-memory-"))
    database_url = os.environ.get("BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp}/bench.db")
    upgrade(database_url)
    bot = BENCH_BOT if args.hybrid else lexical_copy(BENCH_BOT, tmp)
    port = free_port()
    llm = subprocess.Popen([sys.executable, "-c", f"from infra.bench.fake_llm import serve; serve({port}, 0)"],
                           start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, llm)
        checkpoints = asyncio.run(run_turns(database_url, bot, f"http://127.0.0.1:{port}", turns=args.turns,
                                            conversations=args.conversations))
    finally:
        stop(llm)
    database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    print(f"turns={args.turns} conversations={args.conversations} database={database} "
          f"retrieval={'hybrid' if args.hybrid else 'lexical'}")
    for turns, rss in zip(checkpoints.turns, checkpoints.rss, strict=True):
        print(f"after {turns:>6} turns: RSS {rss:7.1f} MiB")
    print(f"ratio RSS after {checkpoints.turns[-1]} turns / after {checkpoints.turns[0]}: {checkpoints.ratio:.3f}")


if __name__ == "__main__":
    main()
