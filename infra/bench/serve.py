"""Benchmark web process: `csbot serve` with a bench intake channel (mode `pipeline`), or a bare
FastAPI handler that only enqueues a Celery task (mode `bare`). Both under uvicorn, on HTTP.

    python -m infra.bench.serve {bare|pipeline} --port P

Settings come from the environment as for `csbot serve` (`CSBOT_NAMESPACE` included: the bare
handler enqueues under the same key prefix and queue name its bare worker reads).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import uvicorn
from fastapi import FastAPI

from bots.runtime import build_runtime
from bots.web import create_app
from channels.http import WebRequest, WebResponse
from channels.registry import CHANNELS
from channels.spec import ChannelSettings, ChannelSpec, Endpoint
from core.capabilities import PLAIN
from core.messages import InboundMessage
from infra.bench.worker import BARE_TASK, bare_celery
from infra.settings import Settings, load_settings


class BenchIntakeChannel:
    """Accepts `{"id", "text"}` JSON posts; each id is its own conversation on `bench`."""

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


def bare_web(settings: Settings) -> FastAPI:
    celery = bare_celery(settings)
    app = FastAPI()

    @app.post("/webhooks/bench")
    async def bare(body: dict[str, str]) -> dict[str, bool]:
        celery.send_task(BARE_TASK, args=(body["id"],))
        return {"ok": True}

    return app


async def pipeline_web(settings: Settings) -> FastAPI:
    runtime = await build_runtime(settings, channels=[BenchIntakeChannel()], platform_channels=True, migrate=False,
                                  registry=(*CHANNELS, BENCH_SPEC))
    return create_app(runtime, owns_runtime=True)


async def serve(mode: str, port: int) -> None:
    settings = load_settings()
    app = bare_web(settings) if mode == "bare" else await pipeline_web(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    await uvicorn.Server(config).serve()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["bare", "pipeline"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.mode, args.port))


if __name__ == "__main__":
    main()
