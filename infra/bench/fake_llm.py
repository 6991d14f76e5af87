"""A minimal Messages-API server with a fixed latency, standing in for a GPU server."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web


def make_app(latency: float) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
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

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def serve(port: int, latency: float) -> None:
    web.run_app(make_app(latency), host="127.0.0.1", port=port, print=None, access_log=None)
