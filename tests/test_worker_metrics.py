"""A real Celery worker (on PostgreSQL and Redis) serves /metrics on WORKER_METRICS_PORT, and
its series move when it runs a customer's turn against the fake LLM server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_services
from tests.fakes.llm_server import FakeLLMServer
from tests.handoff.support import DeskSystem, desk_system

pytestmark = pytest.mark.services


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
async def system(request: pytest.FixtureRequest, tmp_path: Path, fake_llm: FakeLLMServer, port: int) -> AsyncIterator[DeskSystem]:
    require_services()
    async with desk_system(tmp_path, backend="postgres", request=request, llm_base_url=fake_llm.url,
                           worker_metrics_port=port) as running:
        yield running


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


async def test_the_workers_metrics_endpoint_moves_with_a_turn(system: DeskSystem, port: int) -> None:
    answered = ("csbot_turn_seconds_count", (("outcome", "answered"),))
    llm_ok = ("csbot_llm_request_seconds_count", (("result", "ok"),))
    before = await scrape(port)
    await system.telegram_message("I lost my card")
    await system.settle()
    after = await scrape(port)
    assert after[answered] == before.get(answered, 0) + 1
    assert after[llm_ok] == before.get(llm_ok, 0) + 1
    assert after[("csbot_llm_tokens_total", ())] > before.get(("csbot_llm_tokens_total", ()), 0)
    assert after[("csbot_llm_generations_in_flight", ())] == 0  # the generation finished


async def test_without_the_setting_no_port_is_opened(tmp_path: Path) -> None:
    from bots.worker import make_worker_app
    from infra.settings import load_settings
    from tests.conftest import REDIS_TEST_URL, TEST_BOT

    # Builds the app only (nothing connects); the suite's own Redis URL all the same.
    settings = load_settings(csbot_bot=TEST_BOT, database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db",
                             redis_url=REDIS_TEST_URL, llm_base_url=None)
    app = make_worker_app(settings, platform_channels=False)
    assert not any(step.__name__ == "MetricsServer" for step in app.steps["worker"])
