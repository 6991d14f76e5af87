"""The bot definition (`bots/<name>/bot.yaml`), validated at load with errors naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
    # Per-language overrides of `min_score`: an encoder's scores sit on a different level in
    # each language (E5 rates Chinese text pairs higher, related or not), so one threshold
    # abstains too often in one language and too rarely in the other.
    min_score_by_language: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = {}
    # A sentence encoder from core.nlu.encoders (e.g. e5-small) fuses meaning with words; unset,
    # retrieval is lexical only. `min_score` is on the fused scale then: calibrate it with
    # `csbot eval answers`.
    encoder: str | None = None

    def min_score_for(self, language: str) -> float:
        """The score a passage needs to be answered from, in `language`."""
        return self.min_score_by_language.get(language, self.min_score)


class History(_Strict):
    max_turns: Annotated[int, Field(ge=0, le=100)] = 8
    max_chars: Annotated[int, Field(ge=200, le=100_000)] = 4000


class Escalation(_Strict):
    """When a person takes over. Evaluated in code (`core.policy`), never left to the prompt."""

    always_escalate_intents: list[str] = []
    # The intent model misses some ways of saying it (and a bot may have no model), so sensitive
    # topics are also caught by phrase: words for Latin scripts, substrings for Chinese.
    always_escalate_phrases: list[str] = []
    trigger_phrases: list[str] = ["human", "agent", "real person", "人工", "转人工"]
    sentiment_threshold: Annotated[float, Field(ge=-1.0, le=0.0)] = -0.6
    confidence_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.35
    max_failed_turns: Annotated[int, Field(ge=1, le=20)] = 2


class Handoff(_Strict):
    sla_seconds: Annotated[int, Field(ge=10, le=86_400)] = 300


class Privacy(_Strict):
    """What the bot keeps of what customers write (see `core.privacy`)."""

    # Card numbers, CVV codes, one-time codes and typed passwords are masked before a message is
    # stored, prompted or logged, and in the model's answers; only the last four digits remain.
    mask_secrets: bool = True
    # Conversations idle longer than this are deleted (counts for stats are kept); unset keeps
    # them until a customer is forgotten on request.
    retention_days: Annotated[int, Field(ge=1, le=36_500)] | None = None


class Texts(_Strict):
    """Fixed texts per language; `en` is the fallback for any language not listed."""

    holding: dict[str, str]
    no_match: dict[str, str]
    media_only: dict[str, str]
    help: dict[str, str] = {}
    lead_in: dict[str, str] = {}
    offer_human: dict[str, str] = {}
    # `{minutes}` is replaced with the handoff SLA, so the customer knows how long to wait.
    handoff_ack: dict[str, str] = {
        "en": "I'm passing this to a colleague now. You can expect a reply within about {minutes} minutes; "
        "anything you write here in the meantime goes straight to them.",
        "zh": "我已将您的问题转给人工客服，预计 {minutes} 分钟内回复您。在此期间您发送的消息都会直接转给客服。",
    }
    rating_request: dict[str, str] = {
        "en": "Our colleague has finished helping you and I'm back. How did we do? Reply with a number from 1 (poor) to 5 (excellent).",
        "zh": "人工客服已结束本次服务，我会继续为您服务。请为本次服务打分：回复 1（很差）到 5（很好）。",
    }
    # Also the answer to a 👍/👎 vote.
    rating_thanks: dict[str, str] = {
        "en": "Thank you for your feedback!",
        "zh": "感谢您的评价！",
    }
    # Small talk (core.small_talk): short social replies, never an article or the no-answer text.
    greeting: dict[str, str] = {"en": "Hello! How can I help you today?", "zh": "您好！请问有什么可以帮您？"}
    thanks: dict[str, str] = {"en": "You're welcome! Anything else I can help with?", "zh": "不客气！还有什么可以帮您的吗？"}
    goodbye: dict[str, str] = {"en": "Goodbye, and have a nice day!", "zh": "再见，祝您生活愉快！"}
    acknowledgement: dict[str, str] = {"en": "Glad I could help. Is there anything else?", "zh": "好的。还有其他可以帮您的吗？"}
    bot_identity: dict[str, str] = {
        "en": "I'm the automated help desk: I answer from our help centre. Ask me anything about your account.",
        "zh": "我是自动客服，根据帮助中心的内容回答问题。请问有什么可以帮您？",
    }
    # Where no agent desk is configured (`csbot chat`, no SLACK_AGENT_CHANNEL): how a customer
    # reaches a person, and the no-answer text without the "reply agent" invitation.
    reach_person: dict[str, str] = {
        "en": "No colleague can join this chat, sorry. To reach a person, please use the contact details in our help centre.",
        "zh": "抱歉，此对话无法转接人工。如需联系工作人员，请使用帮助中心提供的联系方式。",
    }
    no_match_no_desk: dict[str, str] = {
        "en": "I'm sorry, I don't have an answer to that. Could you put it another way?",
        "zh": "抱歉，我暂时无法回答这个问题。您可以换一种说法再问一次。",
    }
    # The last line of an answer on a channel without buttons (SMS), asking for a vote.
    feedback_request: dict[str, str] = {
        "en": "Did this help? Reply 1 if it did, 2 if not.",
        "zh": "这个回答有帮助吗？有帮助请回复 1，没有请回复 2。",
    }


class BotDefinition(_Strict):
    name: Annotated[str, Field(min_length=1)]
    languages: Annotated[list[str], Field(min_length=1)]
    persona: Annotated[str, Field(min_length=1)]
    knowledge: str = "knowledge"
    intents: str | None = None
    # A trained intent model file (see `core.nlu.IntentModel.save`), relative to the bot folder;
    # used when present. Without it, escalation relies on phrases, sentiment and retrieval.
    intent_model: str | None = None
    # Adds a sentence encoder's embedding to the intent features (core.nlu.encoders): e5-small,
    # also `retrieval.encoder`, is in the default install and its vector of each message is
    # shared with retrieval (one encoder call a message); training encodes each example once.
    intent_encoder: Literal["e5-small"] | None = None
    # Below this calibrated confidence a message is out of scope. Unset: the threshold training
    # chose (it rejects about a tenth of in-scope examples, out of fold); lower answers more,
    # higher hands more to people.
    intent_oos_threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    generation: Generation = Generation()
    retrieval: Retrieval = Retrieval()
    history: History = History()
    escalation: Escalation = Escalation()
    handoff: Handoff = Handoff()
    privacy: Privacy = Privacy()
    texts: Texts

    @model_validator(mode="after")
    def _thresholds_for_known_languages(self) -> BotDefinition:
        unknown = sorted(set(self.retrieval.min_score_by_language) - set(self.languages))
        if unknown:
            raise ValueError(f"retrieval.min_score_by_language names {', '.join(unknown)}, not among languages {self.languages}")
        return self

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

    @property
    def intent_model_path(self) -> Path | None:
        model = self.definition.intent_model
        return self.folder / model if model else None


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
