"""A fake LLM server speaking TGI's Messages API: `/v1/chat/completions` (JSON and SSE), `/health`.

It answers from the prompt it receives (quoting the first knowledge passage), so tests can
check that retrieval reached the request. Behaviours are scripted per request: TGI's error
bodies with their statuses, errors inside a 200 stream (TGI reports overload there as a 422
`{"error": {"message", "http_status_code"}}` event), delays for timeouts.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Behaviour:
    kind: str = "ok"  # ok | status | stream_error | delay
    status: int = 200
    error_type: str = ""
    delay: float = 0.0
    text: str | None = None
    before: Callable[[], None] | None = None  # run (in a thread) first: a fault that lands mid-turn
    pace: float = 0.0  # seconds between streamed words: a slow model, whose answer grows visibly


@dataclass
class FakeLLMServer:
    """Run with `with FakeLLMServer() as server:`; `server.url` is the base URL."""

    default: Behaviour = field(default_factory=Behaviour)
    requests: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.time() of each request, in order
    peers: list[int] = field(default_factory=list)  # the client port of each request: its connection
    script: deque[Behaviour] = field(default_factory=deque)
    url: str = ""
    # Requests being answered right now, and the most seen at once (a worker's concurrency).
    in_flight: int = 0
    max_in_flight: int = 0

    # --- scripting ---------------------------------------------------------------------------

    def then(self, *behaviours: Behaviour) -> FakeLLMServer:
        self.script.extend(behaviours)
        return self

    def fail(self, status: int, error_type: str, times: int = 1) -> FakeLLMServer:
        return self.then(*[Behaviour("status", status=status, error_type=error_type)] * times)

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while len(self.requests) < n:
            if time.monotonic() > end:
                raise AssertionError(f"fake LLM got {len(self.requests)} requests, expected {n}")
            time.sleep(0.02)

    # --- answering ---------------------------------------------------------------------------

    @staticmethod
    def answer_for(payload: dict[str, Any]) -> str:
        system = next((m["content"] for m in payload["messages"] if m["role"] == "system"), "")
        passage = re.search(r"Knowledge passages:\n<passage \d+: (.+?)>\n(.+)", system)
        chinese = "Reply in Chinese" in system
        if passage is None:
            return "抱歉，我不确定。" if chinese else "I am not sure about that."
        title, first_line = passage.group(1), passage.group(2).strip()
        question = payload["messages"][-1]["content"]
        tag = re.match(r"#\d+", question)  # tests number messages to check reply order
        prefix = f"{tag.group(0)} " if tag else ""
        return f"{prefix}根据《{title}》：{first_line}" if chinese else f"{prefix}From '{title}': {first_line}"

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1  # the server's own loop is its only writer
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        self.requests.append(payload)
        self.arrivals.append(time.time())
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        self.peers.append(peer[1] if peer else 0)
        behaviour = self.script.popleft() if self.script else self.default
        if behaviour.before is not None:
            await asyncio.to_thread(behaviour.before)
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.kind == "status":
            body = {"error": f"fake {behaviour.error_type} error", "error_type": behaviour.error_type}
            return web.json_response(body, status=behaviour.status)
        text = behaviour.text if behaviour.text is not None else self.answer_for(payload)
        if not payload.get("stream"):
            return web.json_response(_completion(text))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        for i, word in enumerate(re.findall(r"\S+\s*", text) or [text]):
            if i and behaviour.pace:
                await asyncio.sleep(behaviour.pace)
            await response.write(f"data: {json.dumps(_chunk(word, i == 0))}\n\n".encode())
            if behaviour.kind == "stream_error" and i == 0:
                error = {"error": {"message": "Model is overloaded", "http_status_code": 422}}
                await response.write(f"data: {json.dumps(error)}\n\n".encode())
                break
        else:
            await response.write(f"data: {json.dumps(_chunk('', False, finish='stop'))}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _health(self, _: web.Request) -> web.Response:
        return web.Response(status=200)

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeLLMServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def start() -> None:
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._chat)
            app.router.add_get("/health", self._health)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(start())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _chunk(text: str, first: bool, finish: str | None = None) -> dict[str, Any]:
    delta: dict[str, Any] = {"content": text}
    if first:
        delta["role"] = "assistant"
    return {
        "id": "fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "fake-model",
        "system_fingerprint": "fake",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake-model",
        "system_fingerprint": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
