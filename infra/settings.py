"""Settings from the environment. Every real part switches on by its own setting.

Unset means the embedded default: a SQLite file, in-process jobs, the extractive generator,
the sample bot, and every platform channel off.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BOT = REPO_ROOT / "bots" / "acme_bank"


class Settings(BaseSettings):
    # Extra values are kept, not dropped: a channel package declares its own settings
    # (`channels.spec.ChannelSettings`), and a value for them given here reaches it.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="allow", frozen=True)

    csbot_bot: Path = DEFAULT_BOT
    database_url: str = "sqlite+aiosqlite:///csbot.db"
    redis_url: str | None = None
    # Redis redelivers a job whose worker vanished after this many seconds (default: derived
    # from the bot's generation deadline, at least 10 minutes).
    celery_visibility_timeout: int | None = Field(default=None, ge=1)
    # Prefix of every Redis key and Celery queue name, so deployments (or test runs) sharing a
    # Redis database never see each other's jobs, locks or send budgets. Letters, digits, - and _.
    csbot_namespace: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$", max_length=64)

    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "tgi"
    # Generations one worker process keeps in flight at the LLM server (and the size of its job
    # pool): GPU servers batch continuously and serve dozens to hundreds at once.
    llm_max_concurrency: int = Field(default=128, ge=1)

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_agent_channel: str | None = None
    slack_admin_user_ids: str = ""

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_url: str | None = None
    public_base_url: str | None = None
    agent_oncall_number: str | None = None

    # How often a worker retrains the intent model from the bot's data plus corrections
    # (one worker per interval, whatever their number); 0 turns the periodic retrain off.
    retrain_interval_hours: float = Field(default=24.0, ge=0)
    # `csbot worker` serves its Prometheus metrics (turns, LLM latency, generations in flight)
    # on this port at /metrics; unset, it serves none (the web tier's /metrics stays).
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Nice steps `csbot worker` takes at start (Linux; 0 keeps normal priority). Where the web
    # edge shares cores with a worker, its acks then come first: a platform waits for them,
    # while a turn a few milliseconds later is not noticed. Alone on a machine it changes nothing.
    worker_nice: int = Field(default=5, ge=0, le=19)

    log_level: str = "INFO"
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        return url

    @property
    def redis_key_prefix(self) -> str:
        """Prepended to our own Redis keys (locks, send budgets); kombu prefixes its own."""
        return f"{self.csbot_namespace}:" if self.csbot_namespace else ""

    @property
    def admin_user_ids(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.slack_admin_user_ids.split(",") if u.strip())


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; a bad value is a `ConfigError` naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "-"
        raise ConfigError("environment", name, first["msg"]) from exc
