"""The explicit registry of channel adapters: which are on is decided by their settings.

A channel is on when its credentials are set, and a half-set channel is a start-up error
naming the missing variable, never a channel silently off (or worse, open without a secret).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.base import Channel
from core.botdef import BotDefinition
from core.errors import ConfigError
from core.ports import RateLimiter
from infra.db.delivery_status import SqlDeliveryStatus
from infra.db.optouts import SqlOptOuts
from infra.ratelimit import MemoryRateLimiter, RedisRateLimiter
from infra.settings import Settings

Sessions = async_sessionmaker[AsyncSession]


def build_limiter(settings: Settings) -> RateLimiter:
    """Send budgets shared by every worker (Redis), or per process when there is no Redis."""
    if not settings.redis_url:
        return MemoryRateLimiter()
    return RedisRateLimiter(settings.redis_url, prefix=settings.redis_key_prefix + "csbot:rl:")


def _all_or_none(settings: Settings, *names: str) -> bool:
    """True when every setting of a channel is set, False when none is; else a ConfigError."""
    present = [n for n in names if getattr(settings, n)]
    if present and len(present) != len(names):
        missing = next(n for n in names if n not in present)
        raise ConfigError("environment", missing.upper(), f"required when {present[0].upper()} is set")
    return bool(present)


def _secret(value: object) -> str:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value or "")


def telegram(settings: Settings, limiter: RateLimiter, sessions: Sessions, bot: BotDefinition) -> Channel | None:
    if not _all_or_none(settings, "telegram_bot_token", "telegram_webhook_secret"):
        return None
    from channels.telegram import TelegramChannel, TelegramConfig  # its SDK loads only when the channel is on

    config = TelegramConfig(
        token=_secret(settings.telegram_bot_token),
        webhook_secret=_secret(settings.telegram_webhook_secret),
        api_url=settings.telegram_api_url,
    )
    return TelegramChannel(config, limiter)


def slack(settings: Settings, limiter: RateLimiter, sessions: Sessions, bot: BotDefinition) -> Channel | None:
    if not _all_or_none(settings, "slack_bot_token", "slack_signing_secret"):
        return None
    from channels.slack import SlackChannel, SlackConfig  # its SDK loads only when the channel is on

    config = SlackConfig(
        bot_token=_secret(settings.slack_bot_token),
        signing_secret=_secret(settings.slack_signing_secret),
        api_url=settings.slack_api_url,
        agent_channel=settings.slack_agent_channel,
    )
    return SlackChannel(config, limiter)


def sms(settings: Settings, limiter: RateLimiter, sessions: Sessions, bot: BotDefinition) -> Channel | None:
    names = ("twilio_account_sid", "twilio_auth_token", "twilio_from_number", "public_base_url")
    if not settings.twilio_account_sid and not settings.twilio_auth_token:
        return None
    _all_or_none(settings, *names)
    from channels.sms import SmsChannel, SmsConfig  # its SDK loads only when the channel is on

    config = SmsConfig(
        account_sid=str(settings.twilio_account_sid),
        auth_token=_secret(settings.twilio_auth_token),
        from_number=str(settings.twilio_from_number),
        public_base_url=str(settings.public_base_url),
        api_url=settings.twilio_api_url,
        help_text=bot.text("help", "en"),
    )
    return SmsChannel(config, limiter, SqlOptOuts(sessions), SqlDeliveryStatus(sessions))


ChannelFactory = Callable[[Settings, RateLimiter, Sessions, BotDefinition], Channel | None]

CHANNELS: dict[str, ChannelFactory] = {"telegram": telegram, "slack": slack, "sms": sms}


def build_channels(settings: Settings, *, sessions: Sessions, bot: BotDefinition, limiter: RateLimiter | None = None) -> list[Channel]:
    """Every platform channel whose credentials are set. Off channels answer 404 on their webhook."""
    limiter = limiter or build_limiter(settings)
    built = (factory(settings, limiter, sessions, bot) for factory in CHANNELS.values())
    return [channel for channel in built if channel is not None]
