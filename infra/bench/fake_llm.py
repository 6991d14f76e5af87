"""A minimal Messages-API server with a fixed latency, standing in for a GPU server.

It counts the generations it is answering at once (`GET /stats`): how many a worker really
keeps in flight is the number the async worker exists for.
"""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web


ANSWER = "Freeze your card in the app."


def make_app(latency: float, *, text: str = ANSWER, pace: float = 0.0, first_tokens: list[float] | None = None) -> web.Application:
    """`latency` before the first token; with `pace`, `text` streams a word every `pace` s
    (a slow model), and `first_tokens` gets the time.time() each first token was written."""
    stats = {"in_flight": 0, "max_in_flight": 0, "requests": 0}

    async def chat(request: web.Request) -> web.StreamResponse:
        stats["in_flight"] += 1
        stats["requests"] += 1
        stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
        try:
            return await answer(request)
        finally:
            stats["in_flight"] -= 1

    async def answer(request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        await asyncio.sleep(latency)
        chunk = {
            "id": "bench", "object": "chat.completion.chunk", "created": int(time.time()), "model": "bench",
            "system_fingerprint": "bench",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "logprobs": None, "finish_reason": "stop"}],
        }
        if not payload.get("stream"):
            return web.json_response({**chunk, "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        words = text.split(" ") if pace else [text]
        for i, word in enumerate(words):
            if i:
                await asyncio.sleep(pace)
            delta = {"content": word if i + 1 == len(words) else word + " "}
            choice = {**chunk["choices"][0], "delta": delta, "finish_reason": "stop" if i + 1 == len(words) else None}
            await response.write(f"data: {json.dumps({**chunk, 'choices': [choice]})}\n\n".encode())
            if i == 0 and first_tokens is not None:
                first_tokens.append(time.time())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def read_stats(_: web.Request) -> web.Response:
        return web.json_response(stats)

    async def reset_stats(_: web.Request) -> web.Response:
        stats.update(max_in_flight=stats["in_flight"], requests=0)
        return web.json_response(stats)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/stats", read_stats)
    app.router.add_post("/stats/reset", reset_stats)
    return app


def serve(port: int, latency: float) -> None:
    web.run_app(make_app(latency), host="127.0.0.1", port=port, print=None, access_log=None)
