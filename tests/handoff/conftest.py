"""Fixtures for the handoff and admin tests: `desk` on SQLite (default) or, where a test asks for
both, on PostgreSQL + Redis + a Celery worker too (`@BOTH_BACKENDS`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import require_services
from tests.handoff.support import DeskSystem, desk_system


@pytest.fixture(params=["sqlite"])
def desk_backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_services()
    return str(request.param)


@pytest.fixture
async def desk(request: pytest.FixtureRequest, tmp_path: Path, desk_backend: str) -> AsyncIterator[DeskSystem]:
    async with desk_system(tmp_path, backend=desk_backend, request=request) as system:
        yield system


BOTH_BACKENDS = pytest.mark.parametrize(
    "desk_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.services)], indirect=True
)
