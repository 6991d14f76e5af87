"""A worker's memory stays flat turn after turn (the short form of `infra.bench.memory`).

One in-process runtime answers hundreds of turns through the fake LLM server, many conversations
at once and several turns each; its RSS after the first round of turns (pools, caches and models
warm) is the baseline the end must stay within 10% of. What this catches is per-turn retention:
streamed responses, sessions, lock entries or tasks kept after their turn ended.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.bench.memory import run_turns
from infra.db.migrate import upgrade
from tests.conftest import TEST_BOT
from tests.fakes.llm_server import FakeLLMServer

pytestmark = pytest.mark.slow


async def test_memory_is_flat_over_hundreds_of_turns(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/memory.db"
    upgrade(url)
    checkpoints = await run_turns(url, TEST_BOT, fake_llm.url, turns=600, conversations=50, every=150)
    assert checkpoints.turns == [150, 300, 450, 600]
    assert len(fake_llm.requests) >= 300  # most turns really generated (the rest: small talk, no match)
    assert checkpoints.ratio <= 1.10, f"RSS grew {checkpoints.rss} MiB over {checkpoints.turns} turns"
