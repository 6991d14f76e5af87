"""`/readyz` answers what Kubernetes asks of the web tier: can a webhook be stored and enqueued?
The LLM server being down is reported (body and `csbot_llm_up`), never a 503."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bots.web import create_app
from infra.metrics import REGISTRY
from tests.conftest import TEST_BOT, require_services


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def ready(**settings: Any) -> AsyncIterator[httpx.Response]:
    from bots.runtime import build_runtime
    from infra.settings import load_settings

    runtime = await build_runtime(load_settings(csbot_bot=TEST_BOT, **settings), migrate=False)
    transport = httpx.ASGITransport(app=create_app(runtime))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield await http.get("/readyz")
    finally:
        await runtime.close()


@pytest.fixture
def llm_down() -> str:
    return f"http://127.0.0.1:{closed_port()}"


@pytest.mark.services
async def test_ready_with_the_llm_server_down(request: pytest.FixtureRequest, llm_down: str) -> None:
    require_services()
    settings = {"database_url": request.getfixturevalue("clean_postgres"),
                "redis_url": request.getfixturevalue("clean_redis"), "llm_base_url": llm_down}
    async with ready(**settings) as response:
        assert response.status_code == 200
        body = response.json()
        assert body["ready"] is True
        assert body["checks"] == {"database": "ok", "redis": "ok", "llm": "error: unreachable"}
    assert REGISTRY.get_sample_value("csbot_llm_up") == 0


async def test_not_ready_without_the_database(tmp_path: Path, llm_down: str) -> None:
    database = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/test"
    async with ready(database_url=database, redis_url=None, llm_base_url=llm_down) as response:
        assert response.status_code == 503
        body = response.json()
        assert body["ready"] is False
        assert body["checks"]["database"].startswith("error: ")
        assert body["checks"]["redis"] == "off"


@pytest.mark.services
async def test_not_ready_without_redis(request: pytest.FixtureRequest) -> None:
    require_services()
    settings = {"database_url": request.getfixturevalue("clean_postgres"),
                "redis_url": f"redis://127.0.0.1:{closed_port()}/0", "llm_base_url": None}
    async with ready(**settings) as response:
        assert response.status_code == 503
        assert response.json()["checks"]["redis"].startswith("error: ")
        assert response.json()["checks"]["llm"] == "off"


async def test_metrics_still_answer_when_the_database_is_down(llm_down: str) -> None:
    from bots.runtime import build_runtime
    from infra.settings import load_settings

    database = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/test"
    runtime = await build_runtime(load_settings(csbot_bot=TEST_BOT, database_url=database, llm_base_url=llm_down), migrate=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://test") as http:
            response = await http.get("/metrics")
    finally:
        await runtime.close()
    assert response.status_code == 200
    assert "csbot_llm_up 0.0" in response.text
