"""The SMS channel (Twilio Programmable Messaging; WhatsApp through Twilio uses the same webhook).

Inbound: every request must carry a valid `X-Twilio-Signature` over PUBLIC_BASE_URL + path and
the form parameters (the public URL, not the one this process sees, because TLS usually ends at
a proxy). Opt-out keywords (STOP...) and opt-in keywords (START...) are handled here and never
reach the engine; HELP is answered at once in the TwiML response, since carriers require an
answer and it must not depend on the LLM. Messages are deduplicated on MessageSid.

Outbound: plain text (markdown stripped, GSM-7 look-alikes replaced), capped at a segment
budget with a visible note, buttons as "Reply 1 for ...". An opted-out number is never sent to.
Delivery receipts from /webhooks/twilio/status are written onto the outbox row.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from core.delivery_status import DeliveryStatus, ReceiptOutcome
from core.errors import BadInput, ConfigError, PermanentDeliveryError, RateLimited, TransientDeliveryError
from core.intake import Intake
from core.messages import ContentKind, Delivered, InboundMessage, OutboundMessage
from core.optouts import OptOuts
from core.ports import RateLimiter
from channels.http import WebRequest, WebResponse
from channels.retry_after import retry_after_seconds
from channels.sms.spec import CAPABILITIES, NAME, STATUS_PATH
from channels.sms.payload import IncomingSms, StatusCallback, check_form
from core.sanitize import clean_text
from channels.shaping import Fitted, chars_fit, fit, gsm7_normalize, shortened_note, sms_fits, sms_text, source_line

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
WHATSAPP_PREFIX = "whatsapp:"
BODY_LIMIT = 1600  # Twilio's maximum body length, any encoding

# Twilio's default opt-out and opt-in keywords for long codes; Twilio acts on them itself, so
# our register has to follow the same words or we would message someone Twilio has blocked.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})

# Errors that no retry can fix: the number is wrong, unreachable or not allowed.
INVALID_NUMBER_CODES = frozenset({21211, 21214, 21217, 21401, 21408, 21421, 21612, 21614, 63003})
OPTED_OUT_CODE = 21610
TOO_MANY_REQUESTS_CODE = 20429
AUTH_FAILED_CODE = 20003

DEFAULT_HELP = "Customer support: ask your question in a text message. Reply STOP to unsubscribe, START to resubscribe."


@dataclass(frozen=True, slots=True)
class SmsConfig:
    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str
    public_base_url: str  # what Twilio calls; signatures are computed over it
    api_url: str | None = None  # a local server in tests; Twilio's own API when None
    max_segments: int = 4
    whatsapp_max_chars: int = BODY_LIMIT
    help_text: str = DEFAULT_HELP
    per_recipient_per_second: float = 1.0
    per_recipient_burst: int = 2
    sender_per_second: float = 1.0  # a US long code sends about one segment a second
    sender_burst: int = 10  # Twilio queues beyond that; the budget only keeps the queue short
    rate_limit_retry_after: float = 1.0  # the wait when a 429 or 20429 carries no Retry-After
    timeout: float = 15.0
    status_callbacks: bool = True

    def __post_init__(self) -> None:
        for name, value in (
            ("TWILIO_ACCOUNT_SID", self.account_sid),
            ("TWILIO_AUTH_TOKEN", self.auth_token),
            ("TWILIO_FROM_NUMBER", self.from_number),
            ("PUBLIC_BASE_URL", self.public_base_url),
        ):
            if not value:
                raise ConfigError("environment", name, "is required for the SMS channel")
        if not self.public_base_url.startswith(("https://", "http://")):
            raise ConfigError("environment", "PUBLIC_BASE_URL", "must be an absolute http(s) URL")
        if not 1 <= self.max_segments <= 10:
            raise ConfigError("sms", "max_segments", "must be between 1 and 10")


class FormParams(dict[str, list[str]]):
    """A form body with repeated keys kept: Twilio signs every value of every parameter, and
    `RequestValidator` reads them through `getall`."""

    @classmethod
    def parse(cls, body: bytes) -> FormParams:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise BadInput("form body is not UTF-8") from exc
        form = cls()
        for key, value in pairs:
            form.setdefault(key, []).append(value)
        return form

    def cleaned(self) -> FormParams:
        """The same form without what the database cannot store (after the signature check,
        which covers the raw values)."""
        form = FormParams()
        for key, values in self.items():
            form[clean_text(key)] = [clean_text(value) for value in values]
        return form

    def getall(self, name: str) -> list[str]:
        return self[name]

    def first(self, name: str, default: str = "") -> str:
        values = self.get(name)
        return values[0] if values else default


def keyword(body: str) -> str:
    """The message as a keyword: "Stop." and " stop " both mean STOP."""
    return re.sub(r"[^\w]", "", body).upper() if len(body) <= 20 else ""


def is_whatsapp(address: str) -> bool:
    return address.startswith(WHATSAPP_PREFIX)


def twiml(message: str | None = None) -> WebResponse:
    response = MessagingResponse()
    if message:
        response.message(message)
    return WebResponse.text(str(response), media_type="text/xml")


def _refusal(status: int, error: str) -> WebResponse:
    return WebResponse.json({"error": error}, status=status)


class SmsChannel:
    name = NAME
    capabilities = CAPABILITIES

    def __init__(
        self, config: SmsConfig, limiter: RateLimiter, optouts: OptOuts, statuses: DeliveryStatus
    ) -> None:
        self.config = config
        self._limiter = limiter
        self._optouts = optouts
        self._statuses = statuses
        self._validator = RequestValidator(config.auth_token)
        self._base = config.public_base_url.rstrip("/")

    # --- inbound -----------------------------------------------------------------------------

    async def serve_message(self, request: WebRequest, intake: Intake) -> WebResponse:
        return await self._verified(request, intake, IncomingSms, lambda form: self.handle_message(form, intake))

    async def serve_status(self, request: WebRequest, intake: Intake) -> WebResponse:
        return await self._verified(request, intake, StatusCallback, self.handle_status)

    def public_url(self, request: WebRequest) -> str:
        """The URL Twilio signed: our public base + the path and query it requested."""
        query = request.query_string
        return f"{self._base}{request.path}" + (f"?{query}" if query else "")

    async def _verified(
        self, request: WebRequest, intake: Intake, model: type[IncomingSms | StatusCallback],
        handler: Callable[[FormParams], Awaitable[WebResponse]],
    ) -> WebResponse:
        """Fail closed: no signature 401, a wrong one 403, before anything is parsed or stored.
        A signed form that does not fit `model` is dead-lettered and answered 400, which Twilio
        logs as a failed webhook and does not repeat."""
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            return _refusal(401, "X-Twilio-Signature missing")
        body = request.body
        is_form = request.header("content-type").startswith("application/x-www-form-urlencoded")
        try:
            form: FormParams | None = FormParams.parse(body) if is_form else None
        except BadInput:
            form = None  # checked as an empty form: it cannot match, so it is refused as forged
        if not self._signed(request, form or FormParams(), signature):
            return _refusal(403, "X-Twilio-Signature does not match")
        if form is None:
            return _refusal(400, "expected a UTF-8 form-encoded body")
        try:
            form = form.cleaned()
            check_form(model, {key: form.first(key) for key in form}, f"Twilio form {request.path}")
            return await handler(form)
        except BadInput as exc:
            await intake.reject(NAME, exc, body)
            return _refusal(exc.status_code, str(exc))

    def _signed(self, request: WebRequest, form: FormParams, signature: str) -> bool:
        try:
            return bool(self._validator.validate(self.public_url(request), form, signature))
        except (TypeError, ValueError):  # a URL or header no Twilio request carries
            return False

    async def handle_message(self, form: FormParams, intake: Intake) -> WebResponse:
        sid = form.first("MessageSid") or form.first("SmsMessageSid") or form.first("SmsSid")
        sender = form.first("From")
        if not sid or not sender:
            raise BadInput("MessageSid and From are required")
        body = form.first("Body").strip()
        word = form.first("OptOutType").upper() or keyword(body)
        if word in STOP_WORDS:
            await self._optouts.opt_out(NAME, sender, reason=word)
            return twiml()
        if word in START_WORDS and await self._optouts.is_opted_out(NAME, sender):
            # Only a way back in: from a subscribed customer "yes" is an answer for the engine.
            await self._optouts.opt_in(NAME, sender)
            return twiml()
        if word in HELP_WORDS:
            return twiml(self._fit(gsm7_normalize(self.config.help_text), sender, "en"))
        inbound = self._inbound(form, sid, sender, body)
        if inbound is not None:
            await intake.accept(inbound)
        return twiml()

    def _inbound(self, form: FormParams, sid: str, sender: str, body: str) -> InboundMessage | None:
        try:
            media = int(form.first("NumMedia", "0") or 0)
        except ValueError:
            media = 0
        if not body and media <= 0:
            return None  # nothing to answer; acknowledging stops Twilio's retries
        return InboundMessage(
            channel=NAME,
            platform_message_id=sid,
            conversation_key=sender,
            sender_id=sender,
            text=body,
            kind=ContentKind.TEXT if body else ContentKind.MEDIA,
            sender_name=form.first("ProfileName"),
            metadata={"to": form.first("To"), "num_media": str(media)},
        )

    async def handle_status(self, form: FormParams) -> WebResponse:
        sid = form.first("MessageSid") or form.first("SmsSid")
        status = (form.first("MessageStatus") or form.first("SmsStatus")).lower()
        if not sid or not status:
            raise BadInput("MessageSid and MessageStatus are required")
        if status in ("delivered", "read"):
            await self._statuses.record(NAME, sid, ReceiptOutcome.DELIVERED)
        elif status in ("failed", "undelivered"):
            code = form.first("ErrorCode") or "unknown"
            await self._statuses.record(NAME, sid, ReceiptOutcome.FAILED, error=f"twilio {status}: error {code}")
            if code == str(OPTED_OUT_CODE) and form.first("To"):
                await self._optouts.opt_out(NAME, form.first("To"), reason=str(OPTED_OUT_CODE))
        return twiml()

    # --- outbound ----------------------------------------------------------------------------

    def shape(self, message: OutboundMessage) -> str:
        """The body as sent: plain text within the segment budget, choices (or the request for a
        vote, which core only makes when there are none) kept at the end."""
        text, choices = sms_text(message.text, message.buttons, message.language)
        if message.ask_feedback and message.feedback_prompt and not choices:
            choices = gsm7_normalize(message.feedback_prompt)
        source = gsm7_normalize(source_line(message.metadata, message.language))
        if source:
            # The source line only rides along when the whole answer still fits the budget.
            with_line = self._fitted(f"{text}\n{source}", message.conversation_key, message.language, tail=choices)
            if not with_line.shortened:
                return with_line.text
        return self._fit(text, message.conversation_key, message.language, tail=choices)

    def _fit(self, text: str, address: str, language: str, *, tail: str = "") -> str:
        return self._fitted(text, address, language, tail=tail).text

    def _fitted(self, text: str, address: str, language: str, *, tail: str = "") -> Fitted:
        note = gsm7_normalize(shortened_note(language))
        if is_whatsapp(address):
            fits = chars_fit(min(self.config.whatsapp_max_chars, BODY_LIMIT))
        else:
            by_segments = sms_fits(self.config.max_segments)
            fits = lambda candidate: len(candidate) <= BODY_LIMIT and by_segments(candidate)  # noqa: E731
        return fit(text, fits, tail=tail, note=note)

    def sender_for(self, address: str) -> str:
        """Answer on the medium the customer used: WhatsApp from our WhatsApp sender."""
        number = self.config.from_number.removeprefix(WHATSAPP_PREFIX)
        return f"{WHATSAPP_PREFIX}{number}" if is_whatsapp(address) else number

    async def send(self, message: OutboundMessage) -> Delivered:
        to = message.conversation_key
        if await self._optouts.is_opted_out(NAME, to):
            raise PermanentDeliveryError(NAME, "recipient opted out")
        body = self.shape(message)
        if not body.strip():
            raise PermanentDeliveryError(NAME, "empty message")
        await self._take_budget(to)
        sid = await self._create(to, body)
        return Delivered(platform_message_id=sid)

    async def _take_budget(self, to: str) -> None:
        config = self.config
        wait = await self._limiter.reserve(
            f"sms:to:{to}", per_second=config.per_recipient_per_second, burst=config.per_recipient_burst
        )
        if wait <= 0:
            wait = await self._limiter.reserve(
                f"sms:from:{self.sender_for(to)}", per_second=config.sender_per_second, burst=config.sender_burst
            )
        if wait > 0:
            raise RateLimited(NAME, wait, "local send budget")

    async def _create(self, to: str, body: str) -> str:
        """One REST call, no SDK retries (a timed-out create may have been accepted; delivery
        decides about retrying). A fresh HTTP session per send keeps it on the current loop."""
        http = RetryAfterHttpClient(timeout=None, max_retries=None)
        client = Client(self.config.account_sid, self.config.auth_token, http_client=http)
        if self.config.api_url:
            client.api.base_url = self.config.api_url.rstrip("/")
        callback = f"{self._base}{STATUS_PATH}" if self.config.status_callbacks else None
        kwargs = {"status_callback": callback} if callback else {}
        try:
            async with asyncio.timeout(self.config.timeout):
                created = await client.messages.create_async(to=to, from_=self.sender_for(to), body=body, **kwargs)
        except TwilioException as exc:
            raise await self._delivery_error(exc, to, http.retry_after) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientDeliveryError(NAME, f"network: {type(exc).__name__}") from exc
        finally:
            await http.close()
        return str(created.sid)

    async def _delivery_error(self, exc: TwilioException, to: str, retry_after: str | None = None) -> Exception:
        status = int(getattr(exc, "status", 0) or 0)
        code = int(getattr(exc, "code", 0) or 0)
        detail = str(getattr(exc, "msg", "") or getattr(exc, "title", "") or type(exc).__name__)
        if status == 429 or code == TOO_MANY_REQUESTS_CODE:
            wait = retry_after_seconds(retry_after, default=self.config.rate_limit_retry_after)
            return RateLimited(NAME, wait, f"twilio {code or status}")
        if code == OPTED_OUT_CODE:
            await self._optouts.opt_out(NAME, to, reason=str(OPTED_OUT_CODE))
            return PermanentDeliveryError(NAME, f"recipient opted out (twilio {OPTED_OUT_CODE})")
        if code in INVALID_NUMBER_CODES:
            return PermanentDeliveryError(NAME, f"invalid or unreachable number (twilio {code}): {detail}")
        if code == AUTH_FAILED_CODE or status == 401:
            return PermanentDeliveryError(NAME, "twilio credentials rejected")
        if status >= 500 or status == 0:
            return TransientDeliveryError(NAME, f"twilio {status}: {detail}")
        return PermanentDeliveryError(NAME, f"twilio {status} error {code}: {detail}")


class RetryAfterHttpClient(AsyncTwilioHttpClient):
    """twilio-python's HTTP client, remembering the last response's `Retry-After`: a 429 may say
    how long to wait, and `TwilioRestException` keeps the status and code but drops the headers."""

    retry_after: str | None = None

    async def request(self, *args: Any, **kwargs: Any) -> TwilioResponse:
        response = await super().request(*args, **kwargs)
        self.retry_after = (response.headers or {}).get("Retry-After")
        return response
