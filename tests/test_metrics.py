"""Every series an operator charts exists and moves when traffic flows through the real app:
signed webhooks → intake → jobs (in-process, or Celery on Redis) → turns → the fake LLM server
over its streaming wire format → outbox → the fake platforms, and the agents' desk on Slack.

Counters are compared before and after (the registry is per process and other tests add to
it); gauges are read from what `/metrics` serves.
"""

from __future__ import annotations

import asyncio

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.metrics import REGISTRY
from tests.conftest import require_services
from tests.fakes.llm_server import Behaviour, FakeLLMServer
from tests.handoff.support import DeskSystem, desk_system

BLOCKED_CHAT = 9191


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def scrape(system: DeskSystem) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await system.http.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
async def system(request: pytest.FixtureRequest, tmp_path: Path, fake_llm: FakeLLMServer) -> AsyncIterator[DeskSystem]:
    if request.param == "postgres":
        require_services()
    async with desk_system(tmp_path, backend=request.param, request=request, llm_base_url=fake_llm.url) as running:
        yield running


async def test_llm_and_turn_metrics_move_with_answers_and_fallbacks(system: DeskSystem, fake_llm: FakeLLMServer) -> None:
    answered, fell_back = sample("csbot_turn_seconds_count", outcome="answered"), sample("csbot_turn_seconds_count", outcome="fell_back")
    ok, errors = sample("csbot_llm_request_seconds_count", result="ok"), sample("csbot_llm_errors_total", kind="LLMServerError")
    first_tokens, tokens = sample("csbot_llm_time_to_first_token_seconds_count"), sample("csbot_llm_tokens_total")

    await system.telegram_message("I lost my card")
    await system.settle()
    assert sample("csbot_turn_seconds_count", outcome="answered") == answered + 1
    assert sample("csbot_llm_request_seconds_count", result="ok") == ok + 1
    assert sample("csbot_llm_time_to_first_token_seconds_count") == first_tokens + 1
    assert sample("csbot_llm_tokens_total") > tokens + 3  # the fake streams one word per delta

    fake_llm.default = Behaviour("status", status=500, error_type="server_error")
    await system.sms("When are your branches open?")
    await system.settle()
    fake_llm.default = Behaviour()
    assert sample("csbot_turn_seconds_count", outcome="fell_back") == fell_back + 1
    assert sample("csbot_llm_errors_total", kind="LLMServerError") >= errors + 1
    assert sample("csbot_llm_generations_in_flight") == 0  # every started generation finished

    served = await scrape(system)
    assert served[("csbot_llm_up", ())] == 1
    assert ("csbot_llm_errors_total", (("kind", "LLMServerError"),)) in served


async def test_handoff_outbox_queue_and_webhook_metrics_move(system: DeskSystem) -> None:
    escalated = sample("csbot_turn_seconds_count", outcome="escalated")
    claims = sample("csbot_handoff_time_to_claim_seconds_count")
    telegram_webhooks = sample("csbot_webhook_seconds_count", channel="telegram", path="/webhooks/telegram", status="200")
    slack_refusals = sample("csbot_webhook_refusals_total", channel="slack", status="401")

    await system.telegram_message("Can I talk to a human please?")
    await system.settle()
    assert sample("csbot_turn_seconds_count", outcome="escalated") == escalated + 1
    assert sample("csbot_webhook_seconds_count", channel="telegram", path="/webhooks/telegram", status="200") == telegram_webhooks + 1
    served = await scrape(system)
    assert served[("csbot_handoffs_waiting", ())] == 1
    assert served[("csbot_handoff_oldest_wait_seconds", ())] >= 0
    assert served[("csbot_outbox_rows", (("state", "failed"),))] == 0
    if system.backend == "postgres":  # Celery on Redis: one series per queue
        assert {("queue", q) for q in ("inbound", "outbound", "learning")} <= {
            labels[0] for name, labels in served if name == "csbot_queue_depth"
        }

    [handoff] = await system.handoffs()
    forged = await system.click("claim", handoff["id"], sign=False)
    assert forged.status_code == 401
    assert sample("csbot_webhook_refusals_total", channel="slack", status="401") == slack_refusals + 1
    assert (await system.click("claim", handoff["id"])).status_code == 200
    await system.settle()
    assert sample("csbot_handoff_time_to_claim_seconds_count") == claims + 1

    system.telegram.block(BLOCKED_CHAT)  # the platform refuses for good: a dead letter
    await system.telegram_message("I lost my card", chat_id=BLOCKED_CHAT)
    await system.settle()
    served = await scrape(system)
    assert served[("csbot_handoffs_waiting", ())] == 0
    assert served[("csbot_outbox_rows", (("state", "failed"),))] == 1


@pytest.mark.services
async def test_queue_depth_counts_jobs_no_worker_has_taken(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """With Celery on Redis and no worker running, each accepted message waits in `inbound`."""
    require_services()
    from bots.probes import queue_depths
    from workers.celery_app import Queues
    from bots.runtime import build_runtime
    from infra.settings import load_settings
    from tests.conftest import TEST_BOT
    from tests.support.recording import inbound

    settings = load_settings(csbot_bot=TEST_BOT, database_url=request.getfixturevalue("clean_postgres"),
                             redis_url=request.getfixturevalue("clean_redis"), llm_base_url=None)
    runtime = await build_runtime(settings, migrate=False)
    try:
        queues = Queues(settings.csbot_namespace)
        assert queues.namespace  # the run's own namespace: the depth must be read under it
        before = await queue_depths(runtime.redis, queues)
        for n in range(3):
            await runtime.services.intake.accept(inbound(f"question {n}", message_id=f"q{n}", conversation=f"c{n}"))
        assert await asyncio.to_thread(runtime.jobs.flush, 10)  # the publisher thread has sent them
        after = await queue_depths(runtime.redis, queues)
    finally:
        await runtime.close()
    assert after["inbound"] == before["inbound"] + 3
    assert after["outbound"] == before["outbound"]
