"""The bot definition (`bots/<name>/bot.yaml`), validated at load with errors naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ConfigError

BOT_FILE = "bot.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Generation(_Strict):
    max_new_tokens: Annotated[int, Field(ge=16, le=4096)] = 400
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.3
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    deadline_seconds: Annotated[float, Field(gt=0, le=900)] = 60.0


class Retrieval(_Strict):
    top_k: Annotated[int, Field(ge=1, le=20)] = 3
    min_score: Annotated[float, Field(ge=0.0, le=1.0)] = 0.12


class History(_Strict):
    max_turns: Annotated[int, Field(ge=0, le=100)] = 8
    max_chars: Annotated[int, Field(ge=200, le=100_000)] = 4000


class Escalation(_Strict):
    always_escalate_intents: list[str] = []
    trigger_phrases: list[str] = ["human", "agent", "real person", "人工", "转人工"]
    sentiment_threshold: Annotated[float, Field(ge=-1.0, le=0.0)] = -0.6
    confidence_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.35
    max_failed_turns: Annotated[int, Field(ge=1, le=20)] = 2


class Handoff(_Strict):
    sla_seconds: Annotated[int, Field(ge=10, le=86_400)] = 300


class Texts(_Strict):
    """Fixed texts per language; `en` is the fallback for any language not listed."""

    holding: dict[str, str]
    no_match: dict[str, str]
    media_only: dict[str, str]
    help: dict[str, str] = {}
    lead_in: dict[str, str] = {}
    offer_human: dict[str, str] = {}


class BotDefinition(_Strict):
    name: Annotated[str, Field(min_length=1)]
    languages: Annotated[list[str], Field(min_length=1)]
    persona: Annotated[str, Field(min_length=1)]
    knowledge: str = "knowledge"
    intents: str | None = None
    generation: Generation = Generation()
    retrieval: Retrieval = Retrieval()
    history: History = History()
    escalation: Escalation = Escalation()
    handoff: Handoff = Handoff()
    texts: Texts

    def text(self, kind: str, language: str) -> str:
        """A fixed text in the customer's language, falling back to English."""
        table: dict[str, str] = getattr(self.texts, kind)
        return table.get(language) or table.get("en") or next(iter(table.values()), "")


class LoadedBot(_Strict):
    """A definition plus the folder it came from (knowledge and intents are relative to it)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    definition: BotDefinition
    folder: Path

    @property
    def knowledge_dir(self) -> Path:
        return self.folder / self.definition.knowledge


def load_bot(folder: Path | str) -> LoadedBot:
    """Read and validate `<folder>/bot.yaml`; any problem is a `ConfigError` naming file and field."""
    folder = Path(folder)
    path = folder / BOT_FILE
    if not path.is_file():
        raise ConfigError(str(path), "-", "bot definition not found (set CSBOT_BOT to a bot folder)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "-", f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "-", "must be a mapping of fields")
    try:
        definition = BotDefinition.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "-"
        raise ConfigError(str(path), field, first["msg"]) from exc
    bot = LoadedBot(definition=definition, folder=folder)
    if not bot.knowledge_dir.is_dir():
        raise ConfigError(str(path), "knowledge", f"folder {bot.knowledge_dir} does not exist")
    return bot
