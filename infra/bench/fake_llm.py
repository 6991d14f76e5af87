"""A minimal Messages-API server with a fixed latency, standing in for a GPU server.

It counts the generations it is answering at once (`GET /stats`): how many a worker really
keeps in flight is the number the async worker exists for.
"""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web


def make_app(latency: float) -> web.Application:
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
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Freeze your card in the app."}, "logprobs": None, "finish_reason": "stop"}],
        }
        if not payload.get("stream"):
            return web.json_response({**chunk, "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())
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
