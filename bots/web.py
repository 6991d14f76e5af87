"""The ASGI app: channel webhooks, health, readiness and metrics on one FastAPI instance.

Handlers only verify, persist and enqueue (see `core.intake`); nothing slow runs in a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bots.probes import Readiness, readiness, refresh_gauges
from bots.runtime import Runtime
from bots.starlette_routes import endpoint
from infra.metrics import exposition, observe_webhook
from workers.celery_app import SLA_CHECK_SECONDS
from workers.inprocess import InProcessJobs



def create_app(runtime: Runtime, *, owns_runtime: bool = False) -> FastAPI:
    """An app serving `runtime`; with `owns_runtime` the app closes it on shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ticker = asyncio.create_task(sla_ticker(runtime)) if isinstance(runtime.jobs, InProcessJobs) else None
        yield
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        if owns_runtime:
            await runtime.close()

    app = FastAPI(title="csbot", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    limit = runtime.settings.max_body_bytes

    app.add_middleware(BoundedBody, limit=limit)

    mounted: set[tuple[str, str]] = set()
    for route in runtime.routes:
        app.add_api_route(route.path, endpoint(route.handler), methods=[route.method], include_in_schema=False)
        mounted.add((route.method, route.path))
    # Every registered channel's routes exist: an off channel's answer 404 saying so.
    off = [(e.method, e.path) for spec in runtime.registry for e in spec.endpoints if (e.method, e.path) not in mounted]
    app.state.off_webhooks = [path for _, path in off]
    for method, path in off:
        app.add_api_route(path, _channel_off(path), methods=[method], include_in_schema=False)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """503 only when webhooks cannot be stored or enqueued (database, Redis). The LLM
        server is reported, never a reason: the web tier does not generate, and pulling it
        would turn a slow model into failed webhooks."""
        state: Readiness = await readiness(runtime)
        return JSONResponse(state.body(), status_code=200 if state.ready else 503)

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        await refresh_gauges(runtime)
        return PlainTextResponse(exposition(), media_type=CONTENT_TYPE_LATEST)

    return app


class BoundedBody:
    """Refuses oversized bodies before any handler reads them (413), and times webhooks.

    Plain ASGI: Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`) runs every request
    in a task group of its own, behind memory streams, which costs each webhook's ack more than
    the checks here do."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        if scope["method"] == "POST" and declared is None:  # chunked: read it whole, then replay it
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                more = message.get("more_body", False)
                if size > self.limit:
                    await self._refuse(scope, receive, send)
                    return
            receive = _replay(b"".join(chunks), receive)
        path = scope["path"]
        if not path.startswith("/webhooks/"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                observe_webhook(path, message["status"], time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, timed)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"error": f"body larger than {self.limit} bytes"}, status_code=413)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out `body` once, then whatever the connection says next."""
    pending: list[dict[str, Any]] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def sla_ticker(runtime: Runtime, every: float = SLA_CHECK_SECONDS) -> None:
    """With jobs in this process (no Redis, no `csbot worker`), the web process itself runs the
    periodic checks (handoff SLA, recovery sweep); with Celery the workers do."""
    jobs = runtime.jobs
    while True:
        await asyncio.sleep(every)
        if isinstance(jobs, InProcessJobs):
            jobs.enqueue_sla_check()
            jobs.enqueue_sweep()
            jobs.enqueue_retention()


def _channel_off(path: str) -> Callable[[], Awaitable[JSONResponse]]:
    async def off() -> JSONResponse:
        return JSONResponse({"error": f"channel for {path} is not configured"}, status_code=404)

    return off
