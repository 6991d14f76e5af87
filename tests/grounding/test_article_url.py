"""A help-centre link per article, from its front matter, for the answer's source line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.knowledge import parse_article


def write(tmp_path: Path, header: str) -> Path:
    path = tmp_path / "lost-card.en.md"
    path.write_text(f"---\ntitle: Lost card\n{header}---\nFreeze it in the app.\n", encoding="utf-8")
    return path


def test_url_is_read_from_the_front_matter(tmp_path: Path) -> None:
    article = parse_article(write(tmp_path, "url: https://help.acme.example/lost-card\n"))
    assert article.url == "https://help.acme.example/lost-card"
    assert parse_article(write(tmp_path, "")).url == ""


def test_a_url_that_is_not_a_web_address_names_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        parse_article(write(tmp_path, "url: help/lost-card\n"))
    assert "lost-card.en.md" in str(error.value) and "url" in str(error.value)
