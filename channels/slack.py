"""The Slack channel for customers: a DM to the bot, or a mention of it in a channel.

Inbound is the Events API over HTTP, handled here directly rather than through Bolt: Bolt acks
an event *before* its listener runs (a crash after the ack loses the message) and does not
dedupe Slack's retries. Here the order is the one the invariants need:

    verify the v0 signature over the raw body (fail closed, 401)
    → parse the envelope (400 if it is not JSON)
    → url_verification: answer the challenge
    → event_callback: pick the customer messages, normalize, `await intake.accept(...)`
    → only then 200.

Slack re-sends an event it thinks failed (including a slow 200) with the same `event_id`; that id
is the `platform_message_id`, so intake stores it once. Each Slack message is taken from exactly
one event type: in a DM the `message` event (`channel_type` "im"), in a channel the
`app_mention` event. Slack sends both types for a mention in a DM, and a `message` event for every
channel message when the app also has channel history scopes; taking one per context means the
same message never becomes two turns.

Outbound is `chat.postMessage` through `slack_sdk`'s `AsyncWebClient` (see `SlackChannel.send`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from channels.retry_after import retry_after_seconds
from channels.shaping import with_source
from channels.slack_payload import event_envelope
from channels.slack_format import MAX_CHUNK_CHARS, escape_mrkdwn, plain_text, split_escaped
from channels.slack_interactions import (
    CHOICE_ACTION_PREFIX,
    INTERACTIONS_PATH,
    VOTE_ACTION_PREFIX,
    customer_click,
    read_payload,
)
from core.errors import (
    BadInput,
    DeliveryError,
    NotFound,
    PermanentDeliveryError,
    RateLimited,
    SignatureInvalid,
    TransientDeliveryError,
)
from core.feedback import FeedbackStyle, Vote, VotePress, button_payload
from core.intake import Intake
from core.messages import Button, ContentKind, Delivered, InboundMessage, OutboundMessage
from core.ports import RateLimiter

log = logging.getLogger(__name__)

NAME = "slack"
EVENTS_PATH = "/webhooks/slack/events"
DEFAULT_API_URL = "https://slack.com/api/"

# Replies to these never succeed by waiting: the bot was removed, the channel archived, the
# customer deactivated, or our token/scopes are wrong. Everything else is worth a retry.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "restricted_action",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_arguments",
    }
)
# Message subtypes that are still a person writing: a file with or without a caption, and a
# thread reply also sent to the channel. Every other subtype (edits, deletions, joins, topic
# changes, bot messages) is Slack describing something, not a customer asking.
CUSTOMER_SUBTYPES = frozenset({"", "file_share", "thread_broadcast"})
MAX_BUTTONS = 25  # elements per actions block
BUTTON_LABEL_CHARS = 75
BUTTON_VALUE_CHARS = 2000
MAX_RESUMABLE = 1000  # interrupted split replies remembered per process
MAX_TIMESTAMP_DIGITS = 12  # Unix seconds fit in 10 digits until the year 2286


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """What the Slack channel needs; secrets are kept out of `repr` so they never reach a log."""

    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    agent_channel: str | None = None  # the agents' desk; its messages are never customer messages
    per_channel_rate: float = 1.0  # chat.postMessage: about one message per second per channel
    timeout_seconds: float = 10.0
    bot_user_id: str | None = None  # normally learned from each event's `authorizations`

    def __post_init__(self) -> None:
        if not self.bot_token.strip() or not self.signing_secret.strip():
            raise ValueError("Slack needs a bot token and a signing secret")
        if self.per_channel_rate <= 0:
            raise ValueError("per_channel_rate must be positive")


@dataclass(frozen=True, slots=True)
class SlackEvent:
    """The fields of one Events API `event_callback` that decide what to do with it."""

    event_id: str
    type: str
    subtype: str
    channel: str
    channel_type: str
    user: str
    bot_id: str
    text: str
    ts: str
    thread_ts: str
    team: str
    has_files: bool
    hidden: bool
    bot_user_ids: frozenset[str]  # the bot this event was delivered to

    @property
    def in_dm(self) -> bool:
        return self.channel_type == "im" or self.channel.startswith("D")


class Route(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"  # the agents' desk channel: handed to the desk's hook (channels.slack_desk)
    IGNORE = "ignore"


AgentEventHook = Callable[[SlackEvent], Awaitable[None]]


# --- inbound: verify, parse, classify, normalize ---------------------------------------------


def verify(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> None:
    """Fail closed: a missing, malformed, wrong or stale (>5 min) signature raises, whatever the
    bytes. Slack signs UTF-8 bodies with a ten-digit timestamp; a body that is not UTF-8 or a
    timestamp of absurd length cannot be Slack's and is refused before any arithmetic on it."""
    timestamp = (headers.get("x-slack-request-timestamp") or "").strip()
    signature = headers.get("x-slack-signature")
    if not signature or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise SignatureInvalid("missing or malformed Slack signature headers")
    try:
        valid = verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except (UnicodeDecodeError, TypeError, ValueError, OverflowError) as exc:
        raise SignatureInvalid(f"Slack signature cannot be checked: {type(exc).__name__}") from None
    if not valid:
        raise SignatureInvalid("Slack signature does not match or timestamp is stale")


def refuse_unsigned(verifier: SignatureVerifier, body: bytes, request: Request) -> Response | None:
    """None when Slack signed `body`; else the refusal to answer (and nothing is read further)."""
    try:
        verify(verifier, body, request.headers)
    except SignatureInvalid as exc:
        log.warning("slack %s: refused unsigned or forged request: %s", request.url.path, exc)
        return JSONResponse({"error": "invalid signature"}, status_code=exc.status_code)
    return None


def read_envelope(body: bytes) -> dict[str, Any]:
    """The Events API body as a dict whose fields have the types the handlers read."""
    return event_envelope(body)


def bot_user_ids(envelope: Mapping[str, Any], configured: str | None) -> frozenset[str]:
    """The bot's own user id(s): from the installation's `authorizations`, plus any configured."""
    ids = {configured} if configured else set()
    for auth in envelope.get("authorizations") or ():
        if isinstance(auth, dict) and auth.get("is_bot") and isinstance(auth.get("user_id"), str):
            ids.add(auth["user_id"])
    return frozenset(ids)


def parse_event(envelope: Mapping[str, Any], configured_bot: str | None) -> SlackEvent | None:
    """The `event_callback`'s event, or None when there is none worth reading."""
    event = envelope.get("event")
    event_id = envelope.get("event_id")
    if not isinstance(event, dict) or not isinstance(event_id, str) or not event_id:
        return None

    def text_field(name: str) -> str:
        value = event.get(name)
        return value if isinstance(value, str) else ""

    return SlackEvent(
        event_id=event_id,
        type=text_field("type"),
        subtype=text_field("subtype"),
        channel=text_field("channel"),
        channel_type=text_field("channel_type"),
        user=text_field("user"),
        bot_id=text_field("bot_id"),
        text=text_field("text"),
        ts=text_field("ts"),
        thread_ts=text_field("thread_ts"),
        team=text_field("team") or str(envelope.get("team_id") or ""),
        has_files=bool(event.get("files")),
        hidden=bool(event.get("hidden")),
        bot_user_ids=bot_user_ids(envelope, configured_bot),
    )


def classify(event: SlackEvent, agent_channel: str | None) -> tuple[Route, str]:
    """Where an event goes, with the reason (for the debug log) when it goes nowhere."""
    if event.type not in ("message", "app_mention"):
        return Route.IGNORE, f"event type {event.type!r}"
    if event.bot_id or event.subtype == "bot_message" or event.user in event.bot_user_ids:
        return Route.IGNORE, "written by a bot"  # our own posts included, in every channel
    if event.hidden or event.subtype not in CUSTOMER_SUBTYPES:
        return Route.IGNORE, f"subtype {event.subtype!r}"
    if agent_channel and event.channel == agent_channel:
        # Agents reply in threads without mentioning the bot, so the desk reads `message`
        # events; a mention there arrives as both types and is taken once, as a message.
        if event.type == "app_mention":
            return Route.IGNORE, "mention in the agent channel; its message event carries it"
        return Route.AGENT, "agent channel"
    if not event.channel or not event.ts or not event.user:
        return Route.IGNORE, "no channel, ts or user"
    if event.type == "message" and not event.in_dm:
        return Route.IGNORE, "channel message; mentions arrive as app_mention"
    if event.type == "app_mention" and event.in_dm:
        return Route.IGNORE, "mention in a DM; the DM's message event carries it"
    return Route.CUSTOMER, ""


def conversation_of(event: SlackEvent) -> tuple[str, str]:
    """(conversation_key, thread_ts to reply in).

    A DM is one conversation; the reply goes where the customer wrote (top level, or the DM
    thread they used). In a channel each thread is its own conversation and replies go into it:
    the thread the mention was in, or a new one under the mentioning message.
    """
    if event.in_dm:
        return event.channel, event.thread_ts
    root = event.thread_ts or event.ts
    return f"{event.channel}:{root}", root


def to_inbound(event: SlackEvent) -> InboundMessage | None:
    """The normalized customer message; None when there is nothing to answer (a bare mention)."""
    text = plain_text(event.text, event.bot_user_ids)
    if not text and not event.has_files:
        return None
    key, thread_ts = conversation_of(event)
    return InboundMessage(
        channel=NAME,
        platform_message_id=event.event_id,
        conversation_key=key,
        sender_id=event.user,
        text=text,
        kind=ContentKind.TEXT if text else ContentKind.MEDIA,
        metadata={"channel": event.channel, "thread_ts": thread_ts, "ts": event.ts, "team": event.team},
    )


def refusal(status: int, error: str) -> JSONResponse:
    """An error answer Slack should not retry: retrying the same bytes cannot succeed."""
    return JSONResponse({"error": error}, status_code=status, headers={"X-Slack-No-Retry": "1"})


# --- outbound: shaping ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    channel: str
    thread_ts: str


def target_of(message: OutboundMessage) -> Target:
    """Where a reply goes: the metadata intake stored, else what the conversation key encodes
    (`D…` for a DM, `C…:ts` for a channel thread), so replies that were not written in answer
    to one inbound message (an agent's, say) still find the thread."""
    channel = message.metadata.get("channel", "")
    if channel:
        return Target(channel, message.metadata.get("thread_ts", ""))
    channel, _, thread_ts = message.conversation_key.partition(":")
    return Target(channel, thread_ts)


def vote_block(outbound_id: int) -> dict[str, Any]:
    """👍 / 👎 under an answer; each carries the answer's id back in its value."""
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "value": button_payload(outbound_id, vote),
            "action_id": f"{VOTE_ACTION_PREFIX}{vote.name.lower()}",
        }
        for label, vote in (("👍", Vote.UP), ("👎", Vote.DOWN))
    ]
    return {"type": "actions", "block_id": "csbot_vote", "elements": elements}


def button_blocks(text: str, buttons: tuple[Button, ...]) -> list[dict[str, Any]]:
    """A section with the (already escaped) text, then the choices as an actions block."""
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": b.label[:BUTTON_LABEL_CHARS], "emoji": True},
            "value": b.value[:BUTTON_VALUE_CHARS],
            "action_id": f"{CHOICE_ACTION_PREFIX}{i}",
        }
        for i, b in enumerate(buttons[:MAX_BUTTONS])
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": "csbot_choices", "elements": elements},
    ]


def button_fallback(buttons: tuple[Button, ...]) -> str:
    """Plain-text choices for notifications and clients that cannot render blocks."""
    return "\n".join(f"{i}. {b.label}" for i, b in enumerate(buttons, start=1))


def compose(message: OutboundMessage, limit: int = MAX_CHUNK_CHARS) -> list[dict[str, Any]]:
    """The chat.postMessage arguments (text, blocks) for each part of a reply, in order.

    Buttons ride on the last part; their text fallback is appended to that part's `text`, which
    is what notifications and block-less clients show.
    """
    chunks = split_escaped(with_source(message.text, message.metadata, message.language), limit) or [""]
    parts: list[dict[str, Any]] = [{"text": chunk} for chunk in chunks]
    last = parts[-1]["text"]
    if message.buttons:
        fallback = escape_mrkdwn(button_fallback(message.buttons))
        parts[-1] = {"text": f"{last}\n\n{fallback}".strip(), "blocks": button_blocks(last or " ", message.buttons)}
    if message.ask_feedback:
        blocks = parts[-1].get("blocks") or [{"type": "section", "text": {"type": "mrkdwn", "text": last or " "}}]
        parts[-1] = {**parts[-1], "blocks": [*blocks, vote_block(message.id)]}
    return parts


def delivery_error(exc: SlackApiError) -> DeliveryError:
    """Map a Web API failure to the typed error delivery acts on (wait, retry, dead-letter)."""
    response = exc.response
    status = getattr(response, "status_code", 0)
    data = getattr(response, "data", None)
    code = data.get("error", "") if isinstance(data, dict) else ""
    if status == 429 or code in ("ratelimited", "rate_limited"):
        return RateLimited(NAME, retry_after_of(response), reason=f"slack {code or 'HTTP 429'}")
    if code in PERMANENT_ERRORS:
        return PermanentDeliveryError(NAME, code)
    return TransientDeliveryError(NAME, code or f"HTTP {status}")


def retry_after_of(response: Any) -> float:
    headers = getattr(response, "headers", None) or {}
    raw = headers.get("Retry-After") or headers.get("retry-after")
    return retry_after_seconds(raw, default=1.0)


def make_client(config: SlackConfig) -> AsyncWebClient:
    """A Web API client that never re-posts on its own.

    slack_sdk retries a 429 only when a `RateLimitErrorRetryHandler` is added; it is not, so a
    429 surfaces as `RateLimited` and the outbox reschedules the row with Slack's Retry-After
    instead of a worker sleeping. The stock connection-error handler is narrowed to failures
    to *connect*: a dropped connection or a timeout after the request went out may mean Slack
    already posted the message, and an immediate in-client retry would post it twice. Those
    surface as `TransientDeliveryError`, and the outbox retry is the single place that decides.

    No aiohttp session is passed, so the client opens one per call and holds nothing bound to
    an event loop: it works unchanged in the web process and in `asyncio.run`-per-task workers.
    """
    return AsyncWebClient(
        token=config.bot_token,
        base_url=config.api_url,
        timeout=int(max(1, config.timeout_seconds)),
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1, error_types=[aiohttp.ClientConnectorError])],
    )


# --- the channel ---------------------------------------------------------------------------


class SlackChannel:
    """`channels.base.Channel` for Slack customers: one webhook in, `chat.postMessage` out."""

    name = NAME
    feedback_style = FeedbackStyle.BUTTONS

    def __init__(
        self,
        config: SlackConfig,
        limiter: RateLimiter,
        *,
        client: AsyncWebClient | None = None,
        on_agent_event: AgentEventHook | None = None,
    ) -> None:
        self.config = config
        self._limiter = limiter
        self._client = client or make_client(config)
        self._verifier = SignatureVerifier(config.signing_secret)
        self._on_agent_event = on_agent_event
        self._desk_clicks: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None
        # Parts of a split reply already posted, by outbox idempotency key: a retry after a
        # failure mid-way resumes instead of posting the first parts again (same process only).
        self._posted: dict[str, list[str]] = {}

    def set_agent_hook(self, hook: AgentEventHook | None) -> None:
        """Where agent-channel messages go (the desk); set by the composition root, which builds
        the desk after the channels."""
        self._on_agent_event = hook

    def set_desk_clicks(self, handler: Callable[[Mapping[str, Any]], Awaitable[None]] | None) -> None:
        """Where clicks that are not a customer's go (the agent desk's buttons): Slack has one
        interactions URL per app, and this channel serves it."""
        self._desk_clicks = handler

    # inbound

    def webhooks(self, intake: Intake) -> dict[str, Callable[[Request], Awaitable[Response]]]:
        async def events(request: Request) -> Response:
            return await self.handle_events(request, intake)

        async def interactions(request: Request) -> Response:
            return await self.handle_interactions(request, intake)

        return {EVENTS_PATH: events, INTERACTIONS_PATH: interactions}

    async def handle_interactions(self, request: Request, intake: Intake) -> Response:
        """A customer's vote is stored, and a choice accepted as a message, before the 200."""
        body = await request.body()
        if (refused := refuse_unsigned(self._verifier, body, request)) is not None:
            return refused
        try:
            payload = read_payload(body)
            click = customer_click(payload)
            if click is None:
                if self._desk_clicks is not None:
                    await self._desk_clicks(payload)
                return Response(status_code=200)
        except BadInput as exc:
            await intake.reject(NAME, exc, body)
            return refusal(exc.status_code, str(exc))
        try:
            if isinstance(click, VotePress):
                await intake.vote(click)
            else:
                await intake.accept(click)
        except NotFound as exc:  # a stale or forged vote: nothing changes, and Slack must not retry
            log.info("slack vote ignored: %s", exc)
        except BadInput as exc:
            await intake.reject(NAME, exc, body)
            return refusal(exc.status_code, str(exc))
        return Response(status_code=200)

    async def handle_events(self, request: Request, intake: Intake) -> Response:
        body = await request.body()
        if (refused := refuse_unsigned(self._verifier, body, request)) is not None:
            return refused
        try:
            envelope = read_envelope(body)
            kind = envelope.get("type")
            if kind == "url_verification":
                return JSONResponse({"challenge": str(envelope.get("challenge", ""))})
            if kind != "event_callback":
                return Response(status_code=200)
            return await self._event_callback(envelope, intake, retry=request.headers.get("x-slack-retry-num", ""))
        except BadInput as exc:
            await intake.reject(NAME, exc, body)
            return refusal(exc.status_code, str(exc))

    async def _event_callback(self, envelope: Mapping[str, Any], intake: Intake, *, retry: str) -> Response:
        event = parse_event(envelope, self.config.bot_user_id)
        if event is None:
            return Response(status_code=200)
        route, why = classify(event, self.config.agent_channel)
        if route is Route.AGENT:
            if self._on_agent_event is not None:
                await self._on_agent_event(event)
            return Response(status_code=200)
        if route is Route.IGNORE:
            log.debug("slack event %s ignored: %s", event.event_id, why)
            return Response(status_code=200)
        message = to_inbound(event)
        if message is None:
            return Response(status_code=200)
        accepted = await intake.accept(message)
        if accepted.duplicate:
            log.info("slack event %s already stored (retry %s)", event.event_id, retry or "-")
        return Response(status_code=200)

    # outbound

    async def send(self, message: OutboundMessage) -> Delivered:
        """Post a reply where the customer wrote; returns the `ts` of its first part.

        The per-channel budget is taken once per reply: a reply split in parts goes out as one
        short burst (Slack tolerates bursts) so the limiter can never stop it half-way.
        """
        target = target_of(message)
        if not target.channel:
            raise PermanentDeliveryError(NAME, "no Slack channel to reply to")
        wait = await self._limiter.reserve(f"slack:{target.channel}", per_second=self.config.per_channel_rate)
        if wait > 0:
            raise RateLimited(NAME, wait, reason="per-channel budget")
        parts = compose(message)
        posted = self._resume(message.idempotency_key)
        try:
            for part in parts[len(posted) :]:
                posted.append(await self._post(target, part))
        except PermanentDeliveryError:
            self._posted.pop(message.idempotency_key, None)
            raise
        self._posted.pop(message.idempotency_key, None)
        return Delivered(platform_message_id=posted[0])

    def _resume(self, key: str) -> list[str]:
        """The parts of this reply already posted by an earlier, interrupted attempt."""
        if key not in self._posted and len(self._posted) >= MAX_RESUMABLE:
            self._posted.pop(next(iter(self._posted)))  # forget the oldest; bounded memory
        return self._posted.setdefault(key, [])

    async def _post(self, target: Target, part: Mapping[str, Any]) -> str:
        try:
            response = await self._client.chat_postMessage(
                channel=target.channel,
                thread_ts=target.thread_ts or None,
                text=part["text"],
                blocks=part.get("blocks"),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise delivery_error(exc) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise TransientDeliveryError(NAME, f"network: {type(exc).__name__}") from None
        return str(response.get("ts", ""))
