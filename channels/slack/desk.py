"""The agents' desk and the admin commands on Slack.

Out: a handoff's card (Block Kit, with Claim / Send suggested reply / Resolve buttons) posted to
SLACK_AGENT_CHANNEL, customer messages in the card's thread, and `chat.update` when the state
moves; all through slack_sdk's `AsyncWebClient` from desk jobs, never inside a request.

In (each request's v0 signature verified over the raw body first; a bad one is 401 and changes
nothing):

* `POST /webhooks/slack/interactions`: button clicks (`block_actions`) → `HandoffDesk.act`;
* `POST /webhooks/slack/commands`: `/csbot …` → `AdminRouter.handle`, answered ephemerally;
* agent-channel `message` events (routed here by `SlackChannel`): thread replies → the customer.

Each handler does one or two database writes and returns; Slack's 3-second limit is never near.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from channels.http import Route, WebRequest, WebResponse
from channels.slack.client import delivery_error, make_client
from channels.slack.config import SlackConfig
from channels.slack.events import SlackEvent
from channels.slack.format import escape_mrkdwn, plain_text
from channels.slack.interactions import read_form, read_payload
from channels.slack.signature import refuse_unsigned
from channels.slack.spec import COMMANDS_PATH, DEFAULT_API_URL, INTERACTIONS_PATH
from core.admin import AdminRequest, AdminRouter
from core.desk import HandoffDesk
from core.desk_card import DeskAction, DeskCard
from core.errors import BadInput, TransientDeliveryError
from core.feedback import MAX_ID_DIGITS
from core.handoff import HandoffState
from core.records import Role

log = logging.getLogger(__name__)

NAME = "slack-desk"
ACTION_PREFIX = "csbot_handoff:"
SECTION_CHARS = 2900  # a section block takes 3,000 characters
ROLE_LABELS = {Role.CUSTOMER: "Customer", Role.BOT: "Bot", Role.AGENT: "Agent"}
STATE_LINES = {
    HandoffState.WAITING: ":hourglass_flowing_sand: Waiting for an agent",
    HandoffState.CLAIMED: ":technologist: Claimed by <@{agent}>",
    HandoffState.RESOLVED: ":white_check_mark: Resolved; the bot has the conversation again",
}


@dataclass(frozen=True, slots=True)
class SlackDeskConfig:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    agent_channel: str
    api_url: str = DEFAULT_API_URL
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.agent_channel.strip():
            raise ValueError("the agent desk needs SLACK_AGENT_CHANNEL")

    def client_config(self) -> SlackConfig:
        return SlackConfig(bot_token=self.bot_token, signing_secret=self.signing_secret, api_url=self.api_url,
                           agent_channel=self.agent_channel, timeout_seconds=self.timeout_seconds)


# --- rendering ---------------------------------------------------------------------------------


def _section(text: str) -> SectionBlock:
    if len(text) > SECTION_CHARS:
        text = text[: SECTION_CHARS - 1] + "…"
    return SectionBlock(text=MarkdownTextObject(text=text))


def _button(label: str, action: DeskAction, handoff_id: int, style: str | None = None) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=label, emoji=True), action_id=f"{ACTION_PREFIX}{action.value}",
        value=str(handoff_id), style=style,
    )


def card_buttons(card: DeskCard) -> list[ButtonElement]:
    """The buttons that still make sense in the card's state."""
    if card.state is HandoffState.RESOLVED:
        return []
    buttons = []
    if card.state is HandoffState.WAITING:
        buttons.append(_button("Claim", DeskAction.CLAIM, card.handoff_id, "primary"))
    if card.suggested_reply:
        buttons.append(_button("Send suggested reply", DeskAction.SEND_SUGGESTED, card.handoff_id))
    buttons.append(_button("Resolve", DeskAction.RESOLVE, card.handoff_id, "danger"))
    return buttons


def card_fallback(card: DeskCard) -> str:
    """The notification text (and what block-less clients show)."""
    return escape_mrkdwn(f"Handoff #{card.handoff_id} ({card.channel}, {card.customer}): {card.reason} [{card.state}]")


def card_blocks(card: DeskCard) -> list[dict[str, Any]]:
    """The card as Block Kit JSON, built with `slack_sdk.models.blocks`, whose `to_dict` also
    checks Slack's limits (text lengths, button counts) before Slack would refuse the post."""
    since = int(card.waiting_since.timestamp())
    transcript = "\n".join(
        f"> *{ROLE_LABELS.get(t.role, t.role)}:* {escape_mrkdwn(' '.join(t.text.split()))[:400]}" for t in card.last_messages
    ) or "_(no messages)_"
    state = STATE_LINES[card.state].format(agent=card.agent_id or "?")
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=f"Handoff #{card.handoff_id} · conversation {card.conversation_id}")),
        SectionBlock(fields=[
            MarkdownTextObject(text=f"*Customer*\n{escape_mrkdwn(card.channel)} · {escape_mrkdwn(card.customer)}"),
            MarkdownTextObject(text=f"*Why*\n{escape_mrkdwn(card.reason)} (`{escape_mrkdwn(card.rule)}`)"),
        ]),
        _section(f"*Summary*\n{escape_mrkdwn(card.summary)}"),
        _section(f"*Last messages*\n{transcript}"),
    ]
    if card.suggested_reply:
        blocks.append(_section(f"*Suggested reply*\n{escape_mrkdwn(card.suggested_reply)}"))
    blocks.append(ContextBlock(elements=[
        MarkdownTextObject(text=f"{state} · escalated <!date^{since}^{{date_short_pretty}} {{time}}|{card.waiting_since.isoformat()}>"),
        MarkdownTextObject(text="Reply in this thread to answer the customer; start with `note:` to keep it internal."),
    ]))
    if buttons := card_buttons(card):
        blocks.append(ActionsBlock(block_id=f"csbot_handoff_{card.handoff_id}", elements=buttons))
    return [block.to_dict() for block in blocks]


# --- the desk (outbound) -------------------------------------------------------------------------


class SlackDesk:
    """The `AgentDesk` port on a Slack channel."""

    def __init__(self, config: SlackDeskConfig, *, client: AsyncWebClient | None = None) -> None:
        self.config = config
        self._client = client or make_client(config.client_config())

    async def post_card(self, card: DeskCard) -> str:
        response = await self._call(
            self._client.chat_postMessage,
            channel=self.config.agent_channel,
            text=card_fallback(card),
            blocks=card_blocks(card),
            unfurl_links=False,
        )
        return str(response.get("ts", ""))

    async def update_card(self, thread_ts: str, card: DeskCard) -> None:
        # `blocks` always goes with `text`: an update with text alone would drop the card's blocks.
        await self._call(
            self._client.chat_update, channel=self.config.agent_channel, ts=thread_ts, text=card_fallback(card),
            blocks=card_blocks(card),
        )

    async def post_in_thread(self, thread_ts: str, text: str) -> str:
        response = await self._call(
            self._client.chat_postMessage, channel=self.config.agent_channel, thread_ts=thread_ts, text=text,
            unfurl_links=False,
        )
        return str(response.get("ts", ""))

    async def _call(self, method: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        try:
            return await method(**kwargs)
        except SlackApiError as exc:
            raise delivery_error(exc) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise TransientDeliveryError(NAME, f"network: {type(exc).__name__}") from None


class SlackResponder:
    """The `AdminResponder` port: an ephemeral answer through a command's response_url."""

    async def respond(self, response_url: str, text: str) -> None:
        try:
            response = await AsyncWebhookClient(response_url).send(text=text, response_type="ephemeral")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise TransientDeliveryError(NAME, f"response_url: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise TransientDeliveryError(NAME, f"response_url answered {response.status_code}")
        if response.status_code >= 400:
            log.warning("response_url refused the answer (%s); it may have expired", response.status_code)


# --- inbound: interactions, commands, agent messages ------------------------------------------------


def parse_action(payload: Mapping[str, Any]) -> tuple[DeskAction, int, str, str] | None:
    """(action, handoff id, clicking user, response_url) of a desk button click; None for any
    other interaction. An unknown desk action is `BadInput`."""
    if payload.get("type") != "block_actions":
        return None
    user = (payload.get("user") or {}).get("id", "")
    for action in payload.get("actions") or ():
        action_id = str(action.get("action_id", ""))
        if not action_id.startswith(ACTION_PREFIX):
            continue
        value = str(action.get("value", ""))
        try:
            kind = DeskAction(action_id.removeprefix(ACTION_PREFIX))
        except ValueError as exc:
            raise BadInput(f"unknown desk action {action_id[:80]!r}") from exc
        if not (value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS):
            raise BadInput(f"desk action value {value[:40]!r} is not a handoff id")
        handoff_id = int(value)
        return kind, handoff_id, str(user), str(payload.get("response_url", ""))
    return None


def replay_key(trigger_id: str, headers: Mapping[str, str] | None) -> str:
    """What identifies one signed Slack request: its `trigger_id` (unique per command or click),
    else its signature and timestamp (a replay carries both unchanged, a new request cannot)."""
    if trigger_id:
        return f"slack:trigger:{trigger_id[:100]}"
    if headers is None:
        return ""
    signed = f"{headers.get('x-slack-request-timestamp', '')}:{headers.get('x-slack-signature', '')}"
    return f"slack:sig:{hashlib.sha256(signed.encode('utf-8', 'replace')).hexdigest()}"


class SlackDeskWebhooks:
    """The desk's and the admin commands' HTTP side, plus the agent-channel event hook."""

    def __init__(self, config: SlackDeskConfig, desk: HandoffDesk, admin: AdminRouter | None) -> None:
        self.config = config
        self._verifier = SignatureVerifier(config.signing_secret)
        self._desk = desk
        self._admin = admin

    def routes(self) -> tuple[Route, ...]:
        """The desk's URLs, served on their own when no Slack customer channel is built."""
        return (Route("POST", INTERACTIONS_PATH, self.handle_interaction), Route("POST", COMMANDS_PATH, self.handle_command))

    async def handle_interaction(self, request: WebRequest) -> WebResponse:
        """The interactions URL when no Slack customer channel serves it (which otherwise hands
        the desk's clicks to `on_click`)."""
        body = request.body
        if (refused := refuse_unsigned(self._verifier, request)) is not None:
            return refused
        try:
            await self.on_click(read_payload(body))
        except BadInput as exc:
            return WebResponse.json({"error": str(exc)}, status=exc.status_code)
        return WebResponse.empty()

    async def on_click(self, payload: Mapping[str, Any]) -> None:
        """A verified interaction: a desk button acts on its handoff; anything else is ignored."""
        parsed = parse_action(payload)
        if parsed is None:
            return
        action, handoff_id, user, _ = parsed
        trigger = str(payload.get("trigger_id") or "")
        if self._admin is not None and not await self._admin.first_time(replay_key(trigger, None)):
            log.warning("desk: %s on handoff %s by %s replayed (trigger %s); not acted on again", action, handoff_id,
                        user, trigger)
            return
        outcome = await self._desk.act(action, handoff_id, user)
        log.info("desk: %s on handoff %s by %s: %s", action, handoff_id, user, outcome.message)

    async def handle_command(self, request: WebRequest) -> WebResponse:
        """The commands URL when no Slack customer channel serves it (which otherwise routes
        commands through Bolt to `command_reply`)."""
        if (refused := refuse_unsigned(self._verifier, request)) is not None:
            return refused
        try:
            form = read_form(request.body)
        except BadInput as exc:
            return WebResponse.json({"error": str(exc)}, status=exc.status_code)
        return WebResponse.json({"response_type": "ephemeral", "text": await self.command_reply(form, request.headers)})

    async def command_reply(self, form: Mapping[str, str], headers: Mapping[str, str]) -> str:
        """The ephemeral answer to a verified `/csbot …` command."""
        if self._admin is None:
            return "Admin commands are not configured."
        reply = await self._admin.handle(
            AdminRequest(
                user_id=form.get("user_id", ""),
                text=form.get("text", "").strip(),
                channel_id=form.get("channel_id", ""),
                thread_ts=form.get("thread_ts", ""),
                response_url=form.get("response_url", ""),
                replay_key=replay_key(form.get("trigger_id", ""), headers),
            )
        )
        return reply.text

    async def on_agent_event(self, event: SlackEvent) -> None:
        """A message in the agent channel: a thread reply under a card goes to that customer."""
        if not event.thread_ts or event.thread_ts == event.ts or not event.user:
            return  # top-level chatter in the desk channel is the agents' own business
        text = plain_text(event.text, event.bot_user_ids)
        outcome = await self._desk.agent_message(event.thread_ts, event.user, text, event.event_id)
        log.info("desk thread %s: %s", event.thread_ts, outcome.message)
