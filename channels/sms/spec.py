"""The SMS channel (Twilio) as the registry sees it; the SDK loads only when it is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from channels.spec import Capabilities, ChannelContext, ChannelSettings, ChannelSpec, FeedbackStyle, channel_spec, secret

if TYPE_CHECKING:
    from channels.sms.channel import SmsChannel

NAME = "sms"
SMS_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"
# A text message cannot be edited or shown while it grows; 1600 characters is Twilio's body limit.
CAPABILITIES = Capabilities(feedback_style=FeedbackStyle.TEXT, max_message_chars=1600)


class SmsSettings(ChannelSettings):
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_url: str | None = None
    public_base_url: str | None = None  # shared with other parts, so it alone does not turn SMS on

    required = ("twilio_account_sid", "twilio_auth_token", "twilio_from_number", "public_base_url")
    triggers = ("twilio_account_sid", "twilio_auth_token")


def build(settings: SmsSettings, context: ChannelContext) -> SmsChannel:
    from channels.sms.channel import SmsChannel, SmsConfig

    config = SmsConfig(
        account_sid=str(settings.twilio_account_sid),
        auth_token=secret(settings.twilio_auth_token),
        from_number=str(settings.twilio_from_number),
        public_base_url=str(settings.public_base_url),
        api_url=settings.twilio_api_url,
        help_text=context.bot.text("help", "en"),
    )
    return SmsChannel(config, context.limiter, context.optouts, context.delivery_status)


SPEC: ChannelSpec[SmsSettings, SmsChannel] = channel_spec(
    NAME, SmsSettings, build, routes=[("POST", SMS_PATH, "serve_message"), ("POST", STATUS_PATH, "serve_status")],
    capabilities=CAPABILITIES, describe=lambda s: str(s.twilio_from_number),
)
