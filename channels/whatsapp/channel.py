"""The WhatsApp Cloud API channel: Meta's signed webhooks in, Graph API messages out (httpx).

Inbound: `GET /webhooks/whatsapp` answers Meta's subscription handshake; each POST is checked
against `X-Hub-Signature-256` before it is parsed (see `channels.whatsapp.signature`). Customer
messages are accepted on their `wamid`, so a delivery Meta repeats is stored once; statuses of
our own messages become delivery receipts on the outbox row.

Outbound: plain text (WhatsApp renders its own light markup, not markdown), split at 4096
characters, choices as "Reply 1 for …". Free-form messages are allowed only within 24 hours of
the customer's last message: a reply to an older message, or one the platform refuses for that
reason, goes out as the configured template (carrying the answer as its one body parameter) or
fails with that reason, never silently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from channels.http import WebRequest, WebResponse
from channels.shaping import numbered_choices, split_text, strip_markdown, with_source
from channels.whatsapp.graph import WindowClosed, graph_error
from channels.whatsapp.payload import Delivery, Message, Value, delivery
from channels.whatsapp.signature import SIGNATURE_HEADER, challenge_answer, refusal_status
from channels.whatsapp.spec import CAPABILITIES, DEFAULT_API_URL, NAME
from core.delivery_status import DeliveryStatus, ReceiptOutcome
from core.errors import BadInput, ConfigError, PermanentDeliveryError, RateLimited, TransientDeliveryError
from core.intake import Intake
from core.messages import ContentKind, Delivered, InboundMessage, OutboundMessage
from core.ports import RateLimiter

log = logging.getLogger(__name__)

WINDOW_SECONDS = 24 * 3600
TEMPLATE_PARAMETER_CHARS = 1024  # a template body parameter's limit
CUSTOMER_AT = "customer_at"  # metadata: when the customer wrote the message being answered


@dataclass(frozen=True, slots=True)
class WhatsAppConfig:
    access_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    phone_number_id: str
    api_url: str = DEFAULT_API_URL
    template: str = ""
    template_language: str = "en_US"
    per_customer_per_second: float = 1 / 6  # Meta's pair rate limit: about one message per 6 s
    per_customer_burst: int = 3
    timeout: float = 10.0
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        for name, value in (
            ("WHATSAPP_ACCESS_TOKEN", self.access_token),
            ("WHATSAPP_APP_SECRET", self.app_secret),
            ("WHATSAPP_VERIFY_TOKEN", self.verify_token),
        ):
            if not value.strip():
                raise ConfigError("environment", name, "is empty")
        if not self.phone_number_id.isdigit():
            raise ConfigError("environment", "WHATSAPP_PHONE_NUMBER_ID", "must be the numeric id Meta shows for the number")


# --- inbound -----------------------------------------------------------------------------------


def message_text(message: Message) -> tuple[str, ContentKind]:
    """What the customer wrote: typed text, a pressed reply button's title, or a caption."""
    if message.text is not None:
        return message.text.body, ContentKind.TEXT
    if message.interactive is not None:
        reply = message.interactive.button_reply or message.interactive.list_reply
        if reply is not None:
            return reply.title or reply.id, ContentKind.TEXT
    if message.button is not None:
        return message.button.text or message.button.payload, ContentKind.TEXT
    media = message.image or message.video or message.document
    caption = media.caption if media is not None else ""
    return caption, ContentKind.TEXT if caption else ContentKind.MEDIA


def inbound_messages(value: Value) -> list[InboundMessage]:
    """The customer messages of one change, each keyed on its `wamid`."""
    names = {contact.wa_id: contact.profile.name for contact in value.contacts}
    messages = []
    for message in value.messages:
        if not message.id or not message.sender:
            raise BadInput("WhatsApp message without id or from")
        text, kind = message_text(message)
        messages.append(
            InboundMessage(
                channel=NAME,
                platform_message_id=message.id,
                conversation_key=message.sender,
                sender_id=message.sender,
                text=text,
                kind=kind,
                sender_name=names.get(message.sender, ""),
                metadata={CUSTOMER_AT: message.timestamp, "phone_number_id": value.metadata.phone_number_id},
            )
        )
    return messages


# --- outbound ----------------------------------------------------------------------------------


def shape(message: OutboundMessage) -> str:
    """The text as the customer reads it: plain, with the source line and the choices (or the
    request for a vote) at the end."""
    text = with_source(strip_markdown(message.text), message.metadata, message.language)
    tail = numbered_choices(message.buttons, message.language)
    if message.ask_feedback and message.feedback_prompt and not tail:
        tail = message.feedback_prompt
    return f"{text}\n\n{tail}" if tail else text


class WhatsAppChannel:
    name = NAME
    capabilities = CAPABILITIES

    def __init__(self, config: WhatsAppConfig, limiter: RateLimiter, statuses: DeliveryStatus) -> None:
        self.config = config
        self._limiter = limiter
        self._statuses = statuses
        self._messages_url = f"{config.api_url.rstrip('/')}/{config.phone_number_id}/messages"

    # --- inbound ---------------------------------------------------------------------------

    def handle_verification(self, request: WebRequest) -> WebResponse:
        """Meta's subscription handshake: echo `hub.challenge` only for our verify token."""
        challenge = challenge_answer(request.query, self.config.verify_token)
        if challenge is None:
            return WebResponse.json({"error": "hub.mode or hub.verify_token wrong"}, status=403)
        return WebResponse.text(challenge)

    async def handle_delivery(self, request: WebRequest, intake: Intake) -> WebResponse:
        refused = refusal_status(request.body, request.header(SIGNATURE_HEADER), self.config.app_secret)
        if refused is not None:
            log.warning("whatsapp: refused unsigned or forged delivery (%s)", refused)
            return WebResponse.json({"error": f"{SIGNATURE_HEADER} missing or wrong"}, status=refused)
        try:
            parsed = delivery(request.body)
            for value in self._values(parsed):
                for inbound in inbound_messages(value):
                    if (await intake.accept(inbound)).duplicate:
                        log.info("whatsapp message %s already stored (re-sent delivery)", inbound.platform_message_id)
                await self._record_statuses(value)
        except BadInput as exc:
            # Meta repeats a delivery for days until it gets a 200; one it cannot fix is
            # dead-lettered and acknowledged.
            await intake.reject(NAME, exc, request.body)
        return WebResponse.empty()

    def _values(self, parsed: Delivery) -> list[Value]:
        """The changes for our phone number; others of the same app belong to someone else."""
        values = [change.value for entry in parsed.entry for change in entry.changes if change.field in ("", "messages")]
        ours = self.config.phone_number_id
        return [v for v in values if v.metadata.phone_number_id in ("", ours)]

    async def _record_statuses(self, value: Value) -> None:
        for status in value.statuses:
            if status.status in ("delivered", "read"):
                await self._statuses.record(NAME, status.id, ReceiptOutcome.DELIVERED)
            elif status.status == "failed":
                why = "; ".join(f"{e.code} {e.title}".strip() for e in status.errors) or "no reason given"
                await self._statuses.record(NAME, status.id, ReceiptOutcome.FAILED, error=f"whatsapp failed: {why}")

    # --- outbound --------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> Delivered:
        to = message.conversation_key
        text = shape(message)
        if not text.strip():
            raise PermanentDeliveryError(NAME, "empty message")
        wait = await self._limiter.reserve(
            f"whatsapp:{to}", per_second=self.config.per_customer_per_second, burst=self.config.per_customer_burst
        )
        if wait > 0:
            raise RateLimited(NAME, wait, "local send budget")
        try:
            self._check_window(message)
            ids = [await self._post(text_payload(to, part)) for part in split_text(text, CAPABILITIES.max_message_chars)]
        except WindowClosed:
            if not self.config.template:
                raise
            ids = [await self._post(self._template_payload(to, text))]
        return Delivered(platform_message_id=ids[0])

    def _check_window(self, message: OutboundMessage) -> None:
        """`WindowClosed` when the message answered was written more than 24 hours ago."""
        written = message.metadata.get(CUSTOMER_AT, "")
        if written.isdigit() and self.config.clock() - int(written) > WINDOW_SECONDS:
            hours = (self.config.clock() - int(written)) / 3600
            raise WindowClosed(f"the customer wrote {hours:.0f} hours ago")

    def _template_payload(self, to: str, text: str) -> dict[str, Any]:
        answer = text if len(text) <= TEMPLATE_PARAMETER_CHARS else text[: TEMPLATE_PARAMETER_CHARS - 1] + "…"
        template = {
            "name": self.config.template,
            "language": {"code": self.config.template_language},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": answer}]}],
        }
        return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "template", "template": template}

    async def _post(self, payload: dict[str, Any]) -> str:
        """One Graph API call; the `wamid` of the message sent."""
        headers = {"Authorization": f"Bearer {self.config.access_token}"}
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout) as client:
                response = await client.post(self._messages_url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(NAME, f"network: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            raise graph_error(response.status_code, body)
        try:
            return str(body["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise TransientDeliveryError(NAME, "graph answer without a message id") from None


def text_payload(to: str, text: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"preview_url": False, "body": text}}
