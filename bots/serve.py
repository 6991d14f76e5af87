"""`csbot serve`: the web app under uvicorn, with the channels whose settings are present."""

from __future__ import annotations

import logging

import uvicorn

from bots.runtime import build_runtime
from bots.web import create_app
from infra.settings import Settings

log = logging.getLogger("csbot.serve")


async def serve(settings: Settings, *, host: str, port: int) -> None:
    runtime = await build_runtime(settings, platform_channels=True)
    app = create_app(runtime, owns_runtime=True)
    on = sorted(runtime.channels) or ["none"]
    log.info("channels on: %s", ", ".join(on))
    for path in app.state.off_webhooks:
        log.info("%s answers 404: its channel is off (set its credentials to turn it on)", path)
    jobs = "Celery on Redis (run `csbot worker`)" if settings.redis_url else "in this process"
    log.info("jobs run %s; generator: %s", jobs, settings.llm_base_url or "embedded extractive responder")
    config = uvicorn.Config(app, host=host, port=port, log_config=None, proxy_headers=True)
    await uvicorn.Server(config).serve()
