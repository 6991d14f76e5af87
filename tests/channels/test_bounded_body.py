"""The web app's body limit and webhook timing (`bots.web.BoundedBody`), on a bare Starlette app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bots.web import BoundedBody
from infra.metrics import REGISTRY

LIMIT = 100


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"length": len(await request.body())})


def client() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/webhooks/bench", echo, methods=["POST"])])
    app.add_middleware(BoundedBody, limit=LIMIT)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def chunks(body: bytes, size: int = 30) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


def timed(status: str) -> float:
    return REGISTRY.get_sample_value(
        "csbot_webhook_seconds_count", {"channel": "bench", "path": "/webhooks/bench", "status": status}
    ) or 0.0


async def test_a_declared_body_over_the_limit_is_refused_unread() -> None:
    async with client() as http:
        response = await http.post("/webhooks/bench", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert "larger than 100 bytes" in response.json()["error"]


async def test_a_chunked_body_is_read_whole_and_handed_on_or_refused() -> None:
    async with client() as http:
        small = await http.post("/webhooks/bench", content=chunks(b"y" * LIMIT))
        large = await http.post("/webhooks/bench", content=chunks(b"y" * (LIMIT + 1)))
    assert small.status_code == 200 and small.json() == {"length": LIMIT}
    assert large.status_code == 413


async def test_webhooks_are_timed_with_their_status() -> None:
    before = timed("200")
    async with client() as http:
        assert (await http.post("/webhooks/bench", content=b"{}")).status_code == 200
    assert timed("200") == before + 1
