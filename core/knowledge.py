"""Knowledge articles: the company's own answers, one markdown file per article and language.

A file `knowledge/lost-card.zh.md` is the Chinese version of the article `lost-card`; the
front matter carries the title and the questions customers ask in their own words, which
weigh as much in retrieval as the body does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Article:
    slug: str
    language: str
    title: str
    body: str
    questions: tuple[str, ...] = ()
    source: str = "file"
    url: str = ""  # the article's help-centre page, shown in an answer's source line

    @property
    def searchable(self) -> str:
        """Text the retriever indexes: questions and title count alongside the body."""
        return "\n".join((self.title, *self.questions, self.body))


def parse_article(path: Path) -> Article:
    """Parse one `<slug>.<lang>.md` file with a `---` YAML front matter."""
    stem_parts = path.name.removesuffix(".md").rsplit(".", 1)
    if len(stem_parts) != 2 or not stem_parts[1]:
        raise ConfigError(str(path), "file name", "expected <slug>.<language>.md, e.g. lost-card.en.md")
    slug, language = stem_parts
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise ConfigError(str(path), "front matter", "must start with a '---' YAML block holding title")
    try:
        _, header, body = text.split("---", 2)
        meta = yaml.safe_load(header) or {}
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), "front matter", f"unreadable: {exc}") from exc
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ConfigError(str(path), "title", "missing or empty")
    questions = meta.get("questions") or []
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise ConfigError(str(path), "questions", "must be a list of strings")
    url = meta.get("url") or ""
    if not isinstance(url, str) or (url and not url.startswith(("https://", "http://"))):
        raise ConfigError(str(path), "url", "must be an http(s) address of the article's help-centre page")
    body = body.strip()
    if not body:
        raise ConfigError(str(path), "body", "article has no text")
    return Article(slug=slug, language=language, title=title.strip(), body=body, questions=tuple(questions), url=url)


def load_articles(folder: Path) -> list[Article]:
    """Every article in a knowledge folder, in a stable order."""
    return [parse_article(p) for p in sorted(folder.glob("*.md")) if p.name.lower() != "readme.md"]


def by_language(articles: Iterable[Article]) -> dict[tuple[str, str], Article]:
    return {(a.slug, a.language): a for a in articles}
