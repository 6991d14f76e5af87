"""A real worker process beside the web app, both on one channel's fake platform, for the tests
that kill the worker mid-stream and watch what the customer is shown."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bots.runtime import build_runtime
from bots.web import create_app
from infra.settings import load_settings
from tests.support.worker_process import start_worker, stop_worker, worker_env


@dataclass(frozen=True)
class PlatformStack:
    worker: subprocess.Popen[bytes]
    runtime: Any
    client: httpx.AsyncClient  # the web app, in process


@asynccontextmanager
async def platform_stack(
    database_url: str, redis_url: str, llm_url: str, bot: Path, folder: Path, channel_env: dict[str, str]
) -> AsyncIterator[PlatformStack]:
    """A worker (its log in `folder`/worker.log, the tail printed at the end) and the web app,
    both given `channel_env` (`SLACK_BOT_TOKEN=…`: the web app reads the same names lower-cased)."""
    log = folder / "worker.log"
    worker = start_worker(worker_env(database_url, redis_url, llm_url, bot, **channel_env), log, "platform")
    settings = load_settings(csbot_bot=bot, database_url=database_url, redis_url=redis_url, llm_base_url=llm_url,
                             **{name.lower(): value for name, value in channel_env.items()})
    runtime = await build_runtime(settings, platform_channels=True, migrate=False)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://test")
    try:
        yield PlatformStack(worker, runtime, client)
    finally:
        stop_worker(worker)
        await client.aclose()
        await runtime.close()
        print(log.read_text()[-3000:] if log.exists() else "(no worker log)")
