"""The LLM client's pool holds as many generations as the process lets run at once.

httpx's default pool (huggingface_hub's) opens at most 100 connections: a worker allowed 128
generations would keep 28 waiting for a connection, not for the server. A slow fake LLM server
counts the generations it answers at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from huggingface_hub import set_async_client_factory
from huggingface_hub.utils import get_async_session

from bots.llm_connections import size_llm_pool
from core.ports import ChatMessage, GenerationRequest
from tests.fakes.llm_server import Behaviour, FakeLLMServer
from workers.llm import LLMServerGenerator

MANY = 120  # past httpx's default of 100 connections


@pytest.fixture
def default_factory() -> Iterator[None]:
    """Leave huggingface_hub's client factory as this test found it."""
    from huggingface_hub.utils import _http

    saved = _http._GLOBAL_ASYNC_CLIENT_FACTORY
    yield
    set_async_client_factory(saved)


def request() -> GenerationRequest:
    return GenerationRequest(messages=(ChatMessage("user", "how do I freeze my card?"),), max_new_tokens=16, temperature=0.0)


async def test_a_sized_pool_keeps_every_allowed_generation_in_flight(fake_llm: FakeLLMServer, default_factory: None) -> None:
    size_llm_pool(MANY + 8)
    fake_llm.default = Behaviour(delay=1.0)
    generator = LLMServerGenerator(fake_llm.url, timeout=30.0, max_concurrency=MANY + 8)
    try:
        answers = await asyncio.gather(*(generator.generate(request()) for _ in range(MANY)))
    finally:
        await generator.aclose()
    assert all(answers)
    assert fake_llm.max_in_flight == MANY


async def test_the_sized_pool_keeps_huggingface_hubs_request_hooks(default_factory: None) -> None:
    hooks = get_async_session().event_hooks
    size_llm_pool(8)
    client = get_async_session()
    try:
        assert client.event_hooks == hooks and hooks["request"]
        assert client._transport._pool._max_connections == 8  # type: ignore[attr-defined]
        assert client._transport._pool._max_keepalive_connections == 8  # type: ignore[attr-defined]
    finally:
        await client.aclose()
