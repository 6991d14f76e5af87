"""The Slack channel for customers: a DM to the bot, or a mention of it in a channel.

Inbound is the Events API over HTTP, in the order the invariants need:

    verify the v0 signature over the raw body (fail closed, 401)
    → read the body against its model (400 and dead-lettered if it cannot be read)
    → slack-bolt (`channels.slack.bolt`): verifies again, answers url_verification / ssl_check,
      routes the event to `_on_event`, which picks the customer messages
      (`channels.slack.events`) and awaits `intake.accept(...)`
    → only then 200 (`process_before_response=True`).

Agent-channel messages, desk clicks and `/csbot` commands arrive at the same Slack app URLs and
are handed to the hooks the composition root sets (`channels.slack.desk`).

Outbound is `chat.postMessage` through `slack_sdk`'s `AsyncWebClient` (see `SlackChannel.send`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from channels.http import WebRequest, WebResponse
from channels.slack.bolt import ANY, bolt_app, dispatch, refusal_response, routable_click
from channels.slack.client import delivery_error, make_client
from channels.slack.compose import Target, compose, target_of
from channels.slack.config import SlackConfig
from channels.slack.events import AgentEventHook, EventRoute, classify, parse_event, read_envelope, to_inbound
from channels.slack.interactions import customer_click, read_form, read_payload
from channels.slack.signature import refusal, refuse_unsigned
from channels.slack.spec import CAPABILITIES, NAME
from channels.slack.stream import MESSAGE, STREAM, SlackStreamView, kind_and_ts, stop_stream
from core.errors import BadInput, NotFound, PermanentDeliveryError, RateLimited, TransientDeliveryError
from core.feedback import VotePress
from core.intake import Intake
from core.messages import Delivered, OutboundMessage
from core.ports import RateLimiter
from core.streaming import RESERVED, STREAM_KEY

log = logging.getLogger(__name__)

MAX_RESUMABLE = 1000  # interrupted split replies remembered per process

# `/csbot` handling: (the command's form, the request headers) → the ephemeral reply text.
CommandHook = Callable[[Mapping[str, str], Mapping[str, str]], Awaitable[str]]


class SlackChannel:
    """`channels.base.Channel` for Slack customers: one webhook in, `chat.postMessage` out."""

    name = NAME
    capabilities = CAPABILITIES

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
        self._commands: CommandHook | None = None
        self._bolt = bolt_app(config, self._client)
        self._bolt.event(ANY)(self._on_event)
        self._bolt.action(ANY)(self._on_click)
        self._bolt.command(ANY)(self._on_command)
        # Parts of a split reply already posted, by outbox idempotency key: a retry after a
        # failure mid-way resumes instead of posting the first parts again (same process only).
        self._posted: dict[str, list[str]] = {}

    @property
    def client(self) -> AsyncWebClient:
        return self._client

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

    async def post_wait(self, channel: str) -> float:
        """Take one post from the channel's budget (Slack's one message a second); the seconds
        to wait when it is spent. Replies and a DM's first streamed partial share it."""
        return await self._limiter.reserve(f"slack:{channel}", per_second=self.config.per_channel_rate)

    def stream_view(self) -> SlackStreamView:
        """How this channel shows an answer while it is generated (`core.streaming`)."""
        return SlackStreamView(self)

    def set_agent_hook(self, hook: AgentEventHook | None) -> None:
        """Where agent-channel messages go (the desk); set by the composition root, which builds
        the desk after the channels."""
        self._on_agent_event = hook

    def set_desk_clicks(self, handler: Callable[[Mapping[str, Any]], Awaitable[None]] | None) -> None:
        """Where clicks that are not a customer's go (the agent desk's buttons): Slack has one
        interactions URL per app, and this channel serves it."""
        self._desk_clicks = handler

    def set_commands(self, handler: CommandHook | None) -> None:
        """Where `/csbot` slash commands go (the admin router, wired with the desk): the Slack
        app's commands URL is one of this channel's routes."""
        self._commands = handler

    # inbound: each URL checks what Bolt cannot (see `channels.slack.bolt`), then Bolt routes it

    async def handle_events(self, request: WebRequest, intake: Intake) -> WebResponse:
        if (refused := refuse_unsigned(self._verifier, request)) is not None:
            return refused
        try:
            envelope = read_envelope(request.body)
        except BadInput as exc:
            await intake.reject(NAME, exc, request.body)
            return refusal(exc.status_code, str(exc))
        if envelope.get("type") == "event_callback" and parse_event(envelope, self.config.bot_user_id) is None:
            return WebResponse.empty()  # nothing Bolt could route, and nothing to store
        if envelope.get("type") not in ("url_verification", "event_callback"):
            return WebResponse.empty()  # e.g. app_rate_limited: noted by Slack, nothing to do here
        return await dispatch(self._bolt, request, intake=intake, envelope=envelope, body=request.body)

    async def handle_interactions(self, request: WebRequest, intake: Intake) -> WebResponse:
        """A customer's vote is stored, and a choice accepted as a message, before the 200."""
        if (refused := refuse_unsigned(self._verifier, request)) is not None:
            return refused
        try:
            payload = read_payload(request.body)
        except BadInput as exc:
            await intake.reject(NAME, exc, request.body)
            return refusal(exc.status_code, str(exc))
        if not routable_click(payload):
            await self._desk_click(payload)  # dialogs, shortcuts...: the desk ignores what is not its own
            return WebResponse.empty()
        return await dispatch(self._bolt, request, intake=intake, payload=payload, body=request.body)

    async def handle_commands(self, request: WebRequest, intake: Intake) -> WebResponse:
        if (refused := refuse_unsigned(self._verifier, request)) is not None:
            return refused
        try:
            form = read_form(request.body)
        except BadInput as exc:
            return refusal(exc.status_code, str(exc))
        return await dispatch(self._bolt, request, intake=intake, form=form, headers=request.headers)

    # Bolt listeners

    async def _on_event(self, context: AsyncBoltContext) -> BoltResponse | None:
        """Store a customer's message (or hand an agent's to the desk); Bolt acks afterwards."""
        intake: Intake = context["intake"]
        event = parse_event(context["envelope"], self.config.bot_user_id)
        if event is None:
            return None
        route, why = classify(event, self.config.agent_channel)
        if route is EventRoute.AGENT:
            if self._on_agent_event is not None:
                await self._on_agent_event(event)
            return None
        if route is EventRoute.IGNORE:
            log.debug("slack event %s ignored: %s", event.event_id, why)
            return None
        message = to_inbound(event)
        if message is None:
            return None
        try:
            accepted = await intake.accept(message)
        except BadInput as exc:
            await intake.reject(NAME, exc, context["body"])
            return refusal_response(exc)
        if accepted.duplicate:
            log.info("slack event %s already stored (a retry)", event.event_id)
        return None

    async def _on_click(self, context: AsyncBoltContext, ack: AsyncAck) -> BoltResponse | None:
        intake: Intake = context["intake"]
        payload = context["payload"]
        try:
            click = customer_click(payload)
            if click is None:
                await self._desk_click(payload)
            elif isinstance(click, VotePress):
                await intake.vote(click)
            else:
                await intake.accept(click)
        except NotFound as exc:  # a stale or forged vote: nothing changes, and Slack must not retry
            log.info("slack vote ignored: %s", exc)
        except BadInput as exc:
            await intake.reject(NAME, exc, context["body"])
            return refusal_response(exc)
        await ack()
        return None

    async def _desk_click(self, payload: Mapping[str, Any]) -> None:
        if self._desk_clicks is not None:
            await self._desk_clicks(payload)

    async def _on_command(self, context: AsyncBoltContext, ack: AsyncAck) -> None:
        if self._commands is None:
            await ack(response_type="ephemeral", text="Admin commands are not configured.")
            return
        await ack(response_type="ephemeral", text=await self._commands(context["form"], context["headers"]))

    # outbound

    async def send(self, message: OutboundMessage) -> Delivered:
        """Post a reply where the customer wrote; returns the `ts` of its first part.

        The per-channel budget is taken once per reply: a reply split in parts goes out as one
        short burst (Slack tolerates bursts) so the limiter can never stop it half-way.
        """
        target = target_of(message)
        if not target.channel:
            raise PermanentDeliveryError(NAME, "no Slack channel to reply to")
        wait = await self.post_wait(target.channel)
        if wait > 0:
            raise RateLimited(NAME, wait, reason="per-channel budget")
        parts = compose(message)
        posted = self._resume(message.idempotency_key)
        streamed = message.metadata.get(STREAM_KEY, RESERVED)
        try:
            if not posted and streamed[:2] in (STREAM, MESSAGE):
                posted.append(await self._replace_partial(target, parts[0], streamed))
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

    async def _replace_partial(self, target: Target, part: Mapping[str, Any], ref: str) -> str:
        """The final answer's first part replaces the message that showed it growing (a stream
        is stopped first), so the conversation holds one answer; a partial someone deleted is
        replaced by a new post. Editing again on a retry changes nothing: safe to repeat."""
        kind, ts = kind_and_ts(ref)
        try:
            if kind == STREAM:
                await stop_stream(self._client, target.channel, ts)
            await self._client.chat_update(channel=target.channel, ts=ts, text=part["text"], blocks=part.get("blocks"))
        except SlackApiError as exc:
            if _error_code(exc) == "message_not_found":
                return await self._post(target, part)
            raise delivery_error(exc) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise TransientDeliveryError(NAME, f"network: {type(exc).__name__}") from None
        return ts

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


def _error_code(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    return str(data.get("error", "")) if isinstance(data, dict) else ""
