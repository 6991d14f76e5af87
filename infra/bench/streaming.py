"""Streaming benchmark: how soon a customer sees the first words, against the LLM's own first token.

    python -m infra.bench.streaming [--messages 10] [--first-token 0.3] [--seconds 4] [--words 60]

Both numbers come from the same run and the same local fake LLM server (a word every
seconds/words after `--first-token`):

* bare: huggingface_hub's streaming client asks the fake LLM directly; the time to its first
  delta is the floor no bot can beat.
* csbot: a Telegram group message goes through intake → turn (understanding, retrieval,
  prompt, the LLM client streaming) → the stream presenter → python-telegram-bot → a local
  fake Bot API that timestamps every call. Measured: message accepted → first partial on the
  Bot API, and the LLM's first token written → that partial (the +300 ms budget), the partials
  per answer and the messages left in each chat (must be 1: the final edits the partial).

Embedded defaults otherwise (SQLite file, in-process jobs), so it runs anywhere; set
`BENCH_DATABASE_URL` for PostgreSQL. Prints the medians and the ratio csbot / bare.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from huggingface_hub import AsyncInferenceClient

from bots.runtime import build_runtime
from core.messages import InboundMessage
from infra.bench.fake_llm import make_app
from infra.settings import load_settings

TOKEN = "123456:bench-streaming-token"
SECRET = "bench-secret"
ANSWER_WORDS = (
    "Our branches and the support desk are open on weekdays from the morning until the early evening and on "
    "weekends the app and online banking keep working so you can check balances move money and freeze a card "
    "whenever you need to and booking a branch appointment ahead saves waiting at the counter"
).split()


@dataclass
class FakeBotApi:
    """Just enough Bot API for timing: every call answered ok and timestamped per chat."""

    calls: dict[str, list[tuple[str, float]]] = field(default_factory=lambda: defaultdict(list))
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(await request.post()) if request.content_type != "application/json" else await request.json()
        chat = str(params.get("chat_id", ""))
        self.calls[chat].append((method, time.time()))
        result: Any = True
        if method == "getMe":
            result = {"id": 123456, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
        elif method in ("sendMessage", "editMessageText"):
            result = {"message_id": int(params.get("message_id") or next(self.ids)), "date": int(time.time()),
                      "chat": {"id": int(chat), "type": "supergroup"}, "text": str(params.get("text", ""))}
        return web.json_response({"ok": True, "result": result})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def bare_first_token(client: AsyncInferenceClient) -> float:
    """Seconds from request to the first delta, huggingface_hub straight at the LLM (the
    stream is read to its end, as csbot reads it, so both leave the server alike)."""
    started = time.perf_counter()
    first = None
    stream = await client.chat_completion(messages=[{"role": "user", "content": "hours?"}], stream=True, max_tokens=200)
    async for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("the fake LLM streamed nothing")
    return first


def inbound(i: int, run: str) -> InboundMessage:
    return InboundMessage(
        channel="telegram", platform_message_id=f"{run}-{i}", conversation_key=str(-1000 - i), sender_id="42",
        text="what are your opening hours", sender_name="Bench",
        metadata={"chat_type": "supergroup", "message_id": str(i + 1)},
    )


async def run(args: argparse.Namespace) -> None:
    first_tokens: list[float] = []
    pace = (args.seconds - args.first_token) / max(1, args.words - 1)
    text = " ".join(itertools.islice(itertools.cycle(ANSWER_WORDS), args.words))
    llm_runner, llm_url = await start(make_app(args.first_token, text=text, pace=pace, first_tokens=first_tokens))
    bot_api = FakeBotApi()
    api_runner, api_url = await start(bot_api.app())
    folder = Path(tempfile.mkdtemp(prefix="csbot-bench-stream-"))
    database = os.environ.get("BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    settings = load_settings(
        csbot_bot=str(Path(__file__).resolve().parents[2] / "bots" / "acme_bank"), database_url=database, redis_url=None, llm_base_url=llm_url,
        telegram_bot_token=TOKEN, telegram_webhook_secret=SECRET, telegram_api_url=api_url,
    )
    runtime = await build_runtime(settings, platform_channels=True, migrate=True)
    client = AsyncInferenceClient(base_url=llm_url)
    try:
        bare = [await bare_first_token(client) for _ in range(args.messages)]
    finally:
        await client.close()
    run_id = f"{int(time.time())}"
    to_partial, after_token, partials, messages = [], [], [], []
    try:
        for i in range(args.messages):
            first_tokens.clear()
            accepted = time.time()
            await runtime.services.intake.accept(inbound(i, run_id))
            await runtime.jobs.drain(timeout=120)  # type: ignore[attr-defined]
            calls = bot_api.calls[str(-1000 - i)]
            shown = [at for method, at in calls if method in ("sendMessage", "editMessageText")]
            if not shown or not first_tokens:
                raise RuntimeError(f"message {i}: nothing streamed ({calls})")
            to_partial.append(shown[0] - accepted)
            after_token.append(shown[0] - first_tokens[0])
            partials.append(len(shown) - 1)  # the last edit is the final answer
            messages.append(sum(1 for method, _ in calls if method == "sendMessage"))
    finally:
        await runtime.close()
        await api_runner.cleanup()
        await llm_runner.cleanup()
    bare_ms, csbot_ms = statistics.median(bare) * 1000, statistics.median(to_partial) * 1000
    print(f"answer: {args.words} words over {args.seconds:g} s, first token after {args.first_token:g} s; {args.messages} messages")
    print(f"bare   first delta at the client     median {bare_ms:.0f} ms")
    print(f"csbot  first partial on the Bot API  median {csbot_ms:.0f} ms after the message was accepted")
    print(f"csbot  first partial after the LLM's first token  median {statistics.median(after_token) * 1000:.0f} ms"
          f"  max {max(after_token) * 1000:.0f} ms")
    print(f"partials per answer  min {min(partials)}  median {statistics.median(partials):g}; "
          f"messages per chat {sorted(set(messages))}")
    print(f"ratio first-visible csbot/bare: {csbot_ms / bare_ms:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--first-token", type=float, default=0.3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--words", type=int, default=60)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
