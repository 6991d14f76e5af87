"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from infra.db.migrate import alembic_config, upgrade


def test_migrations_match_the_models_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    upgrade(url)
    command.check(alembic_config(url))  # raises when the models and the migrations differ


def test_migrations_match_the_models_on_postgres(postgres_url: str) -> None:
    command.check(alembic_config(postgres_url))


def test_downgrade_to_the_first_revision_and_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/d.db"
    upgrade(url)
    command.downgrade(alembic_config(url), "0001")
    upgrade(url)
    command.check(alembic_config(url))
