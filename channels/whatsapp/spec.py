"""WhatsApp Cloud API (Meta's Graph API) as the registry sees it.

Meta publishes no official Python SDK for the Cloud API, so the outbound side is plain HTTPS
through httpx; nothing heavy loads before the channel is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from channels.http import WebRequest, WebResponse
from channels.spec import Capabilities, ChannelContext, ChannelSettings, ChannelSpec, FeedbackStyle, channel_spec, secret
from core.intake import Intake

if TYPE_CHECKING:
    from channels.whatsapp.channel import WhatsAppChannel

NAME = "whatsapp"
WEBHOOK_PATH = "/webhooks/whatsapp"
DEFAULT_API_URL = "https://graph.facebook.com/v21.0"
# A text body holds 4096 characters; sent messages cannot be edited, so answers arrive whole.
CAPABILITIES = Capabilities(feedback_style=FeedbackStyle.TEXT, max_message_chars=4096)


class WhatsAppSettings(ChannelSettings):
    whatsapp_access_token: SecretStr | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_api_url: str = DEFAULT_API_URL
    # An approved template sent instead of a free-form reply once the 24-hour window has closed;
    # unset, such a reply is marked failed with the reason.
    whatsapp_template: str | None = None
    whatsapp_template_language: str = "en_US"

    required = ("whatsapp_access_token", "whatsapp_app_secret", "whatsapp_verify_token", "whatsapp_phone_number_id")


def build(settings: WhatsAppSettings, context: ChannelContext) -> WhatsAppChannel:
    from channels.whatsapp.channel import WhatsAppChannel, WhatsAppConfig

    config = WhatsAppConfig(
        access_token=secret(settings.whatsapp_access_token),
        app_secret=secret(settings.whatsapp_app_secret),
        verify_token=secret(settings.whatsapp_verify_token),
        phone_number_id=str(settings.whatsapp_phone_number_id),
        api_url=settings.whatsapp_api_url,
        template=settings.whatsapp_template or "",
        template_language=settings.whatsapp_template_language,
    )
    return WhatsAppChannel(config, context.limiter, context.delivery_status)


async def _verify(channel: Any, _intake: Intake, request: WebRequest) -> WebResponse:
    """Meta's subscription handshake needs no intake, and the channel answers it synchronously."""
    return channel.handle_verification(request)


SPEC: ChannelSpec[WhatsAppSettings, WhatsAppChannel] = channel_spec(
    NAME, WhatsAppSettings, build, routes=[("GET", WEBHOOK_PATH, _verify), ("POST", WEBHOOK_PATH, "handle_delivery")],
    capabilities=CAPABILITIES, describe=lambda s: f"{s.whatsapp_api_url} phone number {s.whatsapp_phone_number_id}",
)
