"""Streamed generations release their responses: a worker's memory must not grow per turn.

huggingface_hub's client keeps each streamed response on its exit stack until the client
closes; these tests count the live responses and pooled connections after many generations,
including the ones that fail or are cancelled mid-stream.
"""

from __future__ import annotations

import asyncio
import gc

from core.errors import LLMError, LLMTimeout
from core.ports import GenerationRequest, ChatMessage
from huggingface_hub.utils import httpx
from urllib.parse import urlsplit
from tests.fakes.llm_server import Behaviour, FakeLLMServer
from workers.llm import LLMServerGenerator

N = 40
ROUNDS = 10


def request() -> GenerationRequest:
    return GenerationRequest(messages=(ChatMessage("user", "how do I freeze my card?"),), max_new_tokens=32, temperature=0.0)


def live_responses(server: FakeLLMServer) -> int:
    """Responses from `server` still alive: only this test's (another test on the same
    xdist worker may still hold responses of its own servers)."""
    gc.collect()
    port = urlsplit(server.url).port
    return sum(1 for o in gc.get_objects() if isinstance(o, httpx.Response) and _port_of(o) == port)


async def settled_live_responses(server: FakeLLMServer, at_most: int, timeout: float = 3.0) -> int:
    """`live_responses` once it is down to `at_most`, or when `timeout` has passed. A stream's
    last references go in tasks the loop runs after the generation returned (the finalizers of
    the client's abandoned async generators, the teardown of a connection closed mid-response):
    on a loaded machine that can take longer than any fixed pause. A leak stays, one a round."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (live := live_responses(server)) > at_most and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    return live


def _port_of(response: httpx.Response) -> int | None:
    try:
        return response.request.url.port
    except RuntimeError:  # a response built without a request
        return None


def pooled_connections(generator: LLMServerGenerator) -> int:
    session = generator._session()
    return len(session._transport._pool.connections)  # type: ignore[attr-defined]


async def test_many_streamed_generations_leave_no_response_behind(fake_llm: FakeLLMServer) -> None:
    generator = LLMServerGenerator(fake_llm.url, timeout=5.0)
    try:
        await generator.generate(request())
        baseline = await settled_live_responses(fake_llm, 0)
        answers = [await generator.generate(request()) for _ in range(N)]
        assert all(answers) and len(fake_llm.requests) == N + 1
        assert await settled_live_responses(fake_llm, baseline) <= baseline
        # One kept-alive connection reused by every turn: huggingface_hub stops reading at [DONE],
        # before the end of the body, and a response closed unread closes its connection.
        assert pooled_connections(generator) == 1
        assert len(set(fake_llm.peers)) == 1
    finally:
        await generator.aclose()


async def failure_kinds(generator: LLMServerGenerator, fake_llm: FakeLLMServer) -> tuple[type, type]:
    """One generation failing inside its stream, one cancelled by the deadline; the errors'
    tracebacks (which hold the frames, hence the responses) are dropped before returning."""
    fake_llm.then(Behaviour("stream_error"), Behaviour("delay", delay=2.5))
    kinds = []
    for _ in range(2):
        try:
            await generator.generate(request())
        except LLMError as exc:
            kinds.append(type(exc))
    return kinds[0], kinds[1]


async def test_failed_and_cancelled_streams_are_closed_too(fake_llm: FakeLLMServer) -> None:
    generator = LLMServerGenerator(fake_llm.url, timeout=1.0)
    try:
        await failure_kinds(generator, fake_llm)
        baseline = await settled_live_responses(fake_llm, 0)
        for _ in range(ROUNDS):
            failed, cancelled = await failure_kinds(generator, fake_llm)
            assert failed is not LLMTimeout and cancelled is LLMTimeout
        # A cancelled stream's connection is torn down in the background and holds its last
        # response for a moment; a leak grows by one per round instead.
        assert await settled_live_responses(fake_llm, baseline) <= baseline
        assert pooled_connections(generator) <= 1
    finally:
        await generator.aclose()
