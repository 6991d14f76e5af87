"""The Telegram channel as the registry sees it; the SDK loads only when the channel is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from channels.spec import Capabilities, ChannelContext, ChannelSettings, ChannelSpec, FeedbackStyle, channel_spec, secret

if TYPE_CHECKING:
    from channels.telegram.channel import TelegramChannel

NAME = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
# 4096 UTF-16 units per message; drafts and edits let a growing answer be shown.
CAPABILITIES = Capabilities(
    feedback_style=FeedbackStyle.BUTTONS, typing=True, streaming=True, edits=True, max_message_chars=4096
)


class TelegramSettings(ChannelSettings):
    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"

    required = ("telegram_bot_token", "telegram_webhook_secret")


def build(settings: TelegramSettings, context: ChannelContext) -> TelegramChannel:
    from channels.telegram.channel import TelegramChannel, TelegramConfig

    config = TelegramConfig(
        token=secret(settings.telegram_bot_token),
        webhook_secret=secret(settings.telegram_webhook_secret),
        api_url=settings.telegram_api_url,
    )
    return TelegramChannel(config, context.limiter)


SPEC: ChannelSpec[TelegramSettings, TelegramChannel] = channel_spec(
    NAME, TelegramSettings, build, routes=[("POST", WEBHOOK_PATH, "handle")], capabilities=CAPABILITIES,
    describe=lambda s: s.telegram_api_url,
)
