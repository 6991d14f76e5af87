"""`csbot telegram set-webhook`: register our webhook URL and secret with Telegram."""

from __future__ import annotations

from typing import TextIO

from channels.telegram.channel import ALLOWED_UPDATES, TelegramChannel, TelegramConfig
from channels.telegram.spec import WEBHOOK_PATH
from core.errors import ConfigError
from infra.ratelimit import MemoryRateLimiter
from infra.settings import Settings


async def set_webhook(settings: Settings, out: TextIO) -> int:
    if not settings.telegram_bot_token:
        raise ConfigError("environment", "TELEGRAM_BOT_TOKEN", "is not set")
    if not settings.telegram_webhook_secret:
        raise ConfigError("environment", "TELEGRAM_WEBHOOK_SECRET", "is not set (1-256 chars of A-Z a-z 0-9 _ -)")
    if not settings.public_base_url or not settings.public_base_url.startswith("https://"):
        raise ConfigError("environment", "PUBLIC_BASE_URL", "must be the public https:// base URL of `csbot serve`")
    url = settings.public_base_url.rstrip("/") + WEBHOOK_PATH
    config = TelegramConfig(
        token=settings.telegram_bot_token.get_secret_value(),
        webhook_secret=settings.telegram_webhook_secret.get_secret_value(),
        api_url=settings.telegram_api_url,
    )
    channel = TelegramChannel(config, MemoryRateLimiter())
    try:
        await channel.set_webhook(url)
    finally:
        await channel.aclose()
    out.write(f"webhook set: {url} (updates: {', '.join(ALLOWED_UPDATES)})\n")
    return 0
