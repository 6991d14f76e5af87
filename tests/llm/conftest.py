"""The real llama.cpp server with SmolLM2, once per test session.

Skipped when the `local-llm` extra is not installed, unless CSBOT_REQUIRE_LOCAL_LLM=1 (CI), where
a missing extra is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from infra.local_llm import EXTRA_HINT, LocalLLMServer, installed


@pytest.fixture(scope="session")
def local_llm() -> Iterator[LocalLLMServer]:
    if not installed():
        if os.environ.get("CSBOT_REQUIRE_LOCAL_LLM") == "1":
            pytest.fail(f"CSBOT_REQUIRE_LOCAL_LLM=1 but the local-llm extra is missing; {EXTRA_HINT}")
        pytest.skip(f"the optional local-llm extra is not installed ({EXTRA_HINT})")
    # One thread: the suite's other workers keep the cores busy, and llama.cpp's threads wait for
    # each other at every step, so two threads on a loaded machine ran several times slower than one.
    with LocalLLMServer(threads=1) as server:
        yield server
