"""The Telegram channel: webhook in (secret header, Update JSON), Bot API out (python-telegram-bot).

Inbound: the `X-Telegram-Bot-Api-Secret-Token` header is compared in constant time before the
body is even parsed; updates are deduplicated on `update_id`; in groups the bot only answers
when addressed (a /command, an @mention, or a reply to one of its messages); edits, service
messages and other bots are acknowledged and dropped. Outbound: HTML parse mode with escaping,
split at Telegram's 4096-character limit, inline keyboard for buttons, flood errors mapped to
`RateLimited` so delivery reschedules instead of hammering the API.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import weakref
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from core.errors import BadInput, ConfigError, NotFound, PermanentDeliveryError, RateLimited, TransientDeliveryError
from core.feedback import Vote, VotePress, button_payload, parse_button_payload
from core.intake import Intake
from core.messages import Button, ContentKind, Delivered, InboundMessage, OutboundMessage
from core.ports import RateLimiter
from channels.http import WebRequest, WebResponse
from channels.telegram.payload import update_data
from channels.telegram.spec import CAPABILITIES, NAME
from channels.telegram.stream import GROUP_TYPES, TelegramStreamView, edit_text, thread_of
from core.streaming import RESERVED, STREAM_KEY
from channels.shaping import split_text, strip_markdown, telegram_html, utf16_len, with_source

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MESSAGE_LIMIT = CAPABILITIES.max_message_chars  # UTF-16 units of text after entity parsing
CALLBACK_DATA_LIMIT = 64  # bytes
ALLOWED_UPDATES = ("message", "callback_query")
VOTES = (("👍", Vote.UP), ("👎", Vote.DOWN))
_SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """What the channel needs; limits default to Telegram's published bot FAQ numbers."""

    token: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    api_url: str = "https://api.telegram.org"
    bot_username: str = ""  # resolved once with getMe when empty (needed to spot @mentions)
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    group_per_minute: float = 20.0
    group_burst: int = 5
    global_per_second: float = 30.0
    partial_per_second: float = 1.0  # pushes of a growing answer per chat (drafts or edits)
    timeout: float = 10.0
    # A flood wait between the parts of a split answer is sat out in place, up to this long,
    # because rescheduling would send the parts already delivered a second time.
    max_inline_wait: float = 5.0

    def __post_init__(self) -> None:
        if not self.token:
            raise ConfigError("environment", "TELEGRAM_BOT_TOKEN", "is empty")
        if not _SECRET_FORMAT.match(self.webhook_secret or ""):
            raise ConfigError(
                "environment", "TELEGRAM_WEBHOOK_SECRET", "must be 1-256 characters of A-Z a-z 0-9 _ - (Telegram's rule)"
            )

    @property
    def bot_id(self) -> int | None:
        """The bot's user id is the token's prefix; knowing it needs no API call."""
        prefix = self.token.split(":", 1)[0]
        return int(prefix) if prefix.isdigit() else None


def _retry_seconds(value: int | float | timedelta) -> float:
    """PTB's `retry_after` is an int today and a timedelta in its next major version."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# --- inbound ---------------------------------------------------------------------------------


def _command_for_us(command: str, username: str) -> bool:
    """`/help` is for every bot in the group, `/help@OtherBot` is not ours."""
    _, _, target = command.partition("@")
    return not target or target.lower() == username.lower()


def _entities(message: Message) -> dict[MessageEntity, str]:
    return message.parse_entities() if message.text else message.parse_caption_entities()


def addressed_to_bot(message: Message, *, bot_id: int | None, username: str) -> bool:
    """In a group the bot speaks only when spoken to: a reply to it, an @mention, or a command
    at the start of the message."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and bot_id is not None and replied.from_user.id == bot_id:
        return True
    for entity, text in _entities(message).items():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0 and _command_for_us(text, username):
            return True
        if entity.type == MessageEntity.MENTION and username and text.lower() == f"@{username.lower()}":
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None and entity.user.id == bot_id:
            return True
    return False


def _without_mention(text: str, username: str) -> str:
    """Drop "@ourbot" so the engine reads the question, not the address; keep the text if
    nothing else is left."""
    if not username:
        return text
    stripped = re.sub(rf"@{re.escape(username)}\b", "", text, flags=re.IGNORECASE).strip()
    return stripped or text


def _metadata(message: Message) -> dict[str, str]:
    """What `send` needs later, carried through the outbox: where and how to answer."""
    meta = {"chat_type": str(message.chat.type), "message_id": str(message.message_id)}
    if message.is_topic_message and message.message_thread_id is not None:
        meta["thread_id"] = str(message.message_thread_id)
    return meta


def message_inbound(update_id: int, message: Message, *, bot_id: int | None, username: str) -> InboundMessage | None:
    """The `InboundMessage` for a customer message, or None for what the bot ignores."""
    sender = message.from_user
    if sender is None or sender.is_bot or message.chat.type == ChatType.CHANNEL:
        return None
    text = message.text or message.caption or ""
    if text:
        kind = ContentKind.TEXT
    elif message.effective_attachment is not None:
        kind = ContentKind.MEDIA  # a sticker, photo, voice note... the engine asks for text
    else:
        return None  # joins, leaves, pins, title changes: service messages
    if message.chat.type in GROUP_TYPES:
        if not addressed_to_bot(message, bot_id=bot_id, username=username):
            return None
        text = _without_mention(text, username)
    return InboundMessage(
        channel=NAME,
        platform_message_id=str(update_id),
        conversation_key=str(message.chat.id),
        sender_id=str(sender.id),
        text=text,
        kind=kind,
        sender_name=sender.full_name,
        metadata=_metadata(message),
    )


def vote_press(query: CallbackQuery) -> VotePress | None:
    """A press on one of our 👍/👎 buttons; None for any other button."""
    parsed = parse_button_payload(query.data)
    message = query.message
    if parsed is None or message is None:
        return None
    outbound_id, vote = parsed
    return VotePress(NAME, str(message.chat.id), outbound_id, vote)


def callback_inbound(update_id: int, query: CallbackQuery) -> InboundMessage | None:
    """A press on one of our inline buttons arrives as the button's value, like typed text."""
    message = query.message
    if not query.data or message is None or not isinstance(message, Message):
        return None
    meta = _metadata(message)
    meta["button"] = "1"
    return InboundMessage(
        channel=NAME,
        platform_message_id=str(update_id),
        conversation_key=str(message.chat.id),
        sender_id=str(query.from_user.id),
        text=query.data,
        sender_name=query.from_user.full_name,
        metadata=meta,
    )


# --- outbound --------------------------------------------------------------------------------


def _callback_value(button: Button) -> str:
    """callback_data is limited to 64 bytes; cut on a character boundary rather than fail."""
    return button.value.encode("utf-8")[:CALLBACK_DATA_LIMIT].decode("utf-8", errors="ignore") or button.label[:16]


def keyboard(message: OutboundMessage) -> InlineKeyboardMarkup | None:
    """One row per choice; a vote asked for is one row of 👍 👎 carrying the answer's id."""
    rows = [[InlineKeyboardButton(b.label, callback_data=_callback_value(b))] for b in message.buttons]
    if message.ask_feedback:
        rows.append([InlineKeyboardButton(label, callback_data=button_payload(message.id, vote)) for label, vote in VOTES])
    return InlineKeyboardMarkup(rows) if rows else None


@dataclass(frozen=True, slots=True)
class _Part:
    text: str
    first: bool
    markup: InlineKeyboardMarkup | None


class TelegramChannel:
    name = NAME
    capabilities = CAPABILITIES

    def __init__(self, config: TelegramConfig, limiter: RateLimiter) -> None:
        self.config = config
        self._limiter = limiter
        self._secret = config.webhook_secret.encode("utf-8")
        self._username = config.bot_username.lstrip("@")
        self._bots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Bot] = weakref.WeakKeyDictionary()

    # --- SDK client --------------------------------------------------------------------------

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

    def stream_view(self) -> TelegramStreamView:
        """How this channel shows an answer while it is generated (`core.streaming`)."""
        return TelegramStreamView(self)

    def bot(self) -> Bot:
        return self._bot()

    def _bot(self) -> Bot:
        """One `Bot` per event loop: its HTTP connections belong to the loop that opened them,
        and worker threads each run their own loop while sharing this channel."""
        loop = asyncio.get_running_loop()
        bot = self._bots.get(loop)
        if bot is None:
            timeout = self.config.timeout
            request = HTTPXRequest(
                connection_pool_size=16, read_timeout=timeout, write_timeout=timeout, connect_timeout=timeout, pool_timeout=timeout
            )
            bot = Bot(self.config.token, base_url=f"{self.config.api_url.rstrip('/')}/bot", request=request)
            self._bots[loop] = bot
        return bot

    async def username(self) -> str:
        """The bot's @username (without @), fetched once: group messages are addressed by it."""
        if not self._username:
            me = await self._bot().get_me()
            self._username = me.username or ""
        return self._username

    async def set_webhook(self, url: str) -> bool:
        """Register `url` with Telegram, with our secret so every delivery can be verified."""
        return await self._bot().set_webhook(url, secret_token=self.config.webhook_secret, allowed_updates=list(ALLOWED_UPDATES))

    async def aclose(self) -> None:
        """Close the HTTP client of the current loop's `Bot`."""
        bot = self._bots.pop(asyncio.get_running_loop(), None)
        if bot is not None:
            await bot.shutdown()

    # --- inbound -----------------------------------------------------------------------------

    def _secret_status(self, header: str | None) -> int | None:
        """None when the secret matches; else the refusal status (401 missing, 403 wrong)."""
        if not header:
            return 401
        return None if hmac.compare_digest(header.encode("utf-8"), self._secret) else 403

    async def handle(self, request: WebRequest, intake: Intake) -> WebResponse:
        refused = self._secret_status(request.header(SECRET_HEADER))
        if refused is not None:
            return WebResponse.json({"error": "secret token missing or wrong"}, status=refused)
        body = request.body
        try:
            update = _parse_update(body)
            if update.callback_query is not None and (vote := vote_press(update.callback_query)) is not None:
                return await self._record_vote(update.callback_query, vote, intake)
            inbound = await self._inbound(update)
            if inbound is not None:
                await intake.accept(inbound)
        except BadInput as exc:
            # Telegram repeats every non-2xx answer; a body it cannot fix is dead-lettered and acked.
            await intake.reject(NAME, exc, body)
            return WebResponse.json({})
        if update.callback_query is not None:
            # Stops the client's spinner at no cost: Telegram runs a method given in the
            # webhook response, so no extra API call (or its latency) is needed.
            return WebResponse.json({"method": "answerCallbackQuery", "callback_query_id": update.callback_query.id})
        return WebResponse.json({})

    async def _record_vote(self, query: CallbackQuery, press: VotePress, intake: Intake) -> WebResponse:
        """Stored before the 200; the answer to the webhook stops the spinner with a thank-you."""
        answer: dict[str, Any] = {"method": "answerCallbackQuery", "callback_query_id": query.id}
        try:
            thanks = await intake.vote(press)
        except NotFound as exc:  # an old or forged payload: nothing changes, Telegram must not retry
            log.info("telegram vote ignored: %s", exc)
            return WebResponse.json(answer)
        return WebResponse.json({**answer, "text": thanks} if thanks else answer)

    async def _inbound(self, update: Update) -> InboundMessage | None:
        if update.callback_query is not None:
            return callback_inbound(update.update_id, update.callback_query)
        message = update.message  # edited messages, channel posts, member updates: ignored
        if message is None:
            return None
        username = await self.username() if message.chat.type in GROUP_TYPES else self._username
        return message_inbound(update.update_id, message, bot_id=self.config.bot_id, username=username)

    # --- outbound ----------------------------------------------------------------------------

    async def typing(self, conversation_key: str) -> None:
        """Show "typing…" while a turn is generated (Telegram shows it for up to 5 s)."""
        await self._bot().send_chat_action(chat_id=conversation_key, action=ChatAction.TYPING)

    async def send(self, message: OutboundMessage) -> Delivered:
        text = with_source(message.text, message.metadata, message.language)
        chunks = split_text(text, MESSAGE_LIMIT, measure=utf16_len)
        if not chunks:
            raise PermanentDeliveryError(NAME, "empty message")
        await self._take_budget(message)
        markup = keyboard(message)
        ids: list[str] = []
        streamed = message.metadata.get(STREAM_KEY, RESERVED)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            part = _Part(chunk, first=index == 0, markup=markup if last else None)
            if part.first and streamed != RESERVED and streamed.isdigit():
                ids.append(await self._replace_partial(message, part, int(streamed)))
            else:
                ids.append(await self._send_part(message, part))
        return Delivered(platform_message_id=",".join(ids))

    async def _replace_partial(self, message: OutboundMessage, part: _Part, message_id: int) -> str:
        """The final answer's first part edits the message that showed it growing, so the chat
        holds one answer. A partial someone deleted is replaced by a new message instead."""
        try:
            await edit_text(self._bot(), message.conversation_key, message_id, telegram_html(part.text), reply_markup=part.markup)
        except PermanentDeliveryError:
            return await self._send_part(message, part)
        except RetryAfter as exc:
            raise RateLimited(NAME, self.retry_seconds(exc), "telegram flood control") from exc
        except BadRequest as exc:
            raise PermanentDeliveryError(NAME, f"bad request: {self._clean(exc)}") from exc
        except Exception as exc:
            raise self._delivery_error(exc) from exc
        return str(message_id)

    async def _take_budget(self, message: OutboundMessage) -> None:
        """Our own share of Telegram's limits, across every worker: per chat (1/s, or 20/min in
        a group) and per bot (30/s). Waiting is delivery's job, so a refusal is `RateLimited`."""
        config = self.config
        wait = await self.chat_wait(message.conversation_key, message.metadata.get("chat_type", ""))
        if wait <= 0:
            wait = await self._limiter.reserve(
                "telegram:bot", per_second=config.global_per_second, burst=max(1, int(config.global_per_second))
            )
        if wait > 0:
            raise RateLimited(NAME, wait, "local send budget")

    async def chat_wait(self, conversation_key: str, chat_type: str) -> float:
        """Take one message from the chat's budget (1/s, or 20/min in a group); the seconds to
        wait when it is spent. Replies and a group's streamed edits share it."""
        config = self.config
        if chat_type in GROUP_TYPES:
            per_second, burst = config.group_per_minute / 60.0, config.group_burst
        else:
            per_second, burst = config.per_chat_per_second, config.per_chat_burst
        return await self._limiter.reserve(f"telegram:chat:{conversation_key}", per_second=per_second, burst=burst)

    async def _send_part(self, message: OutboundMessage, part: _Part) -> str:
        html = True
        while True:
            try:
                sent = await self._post(message, part, html=html)
                return str(sent.message_id)
            except RetryAfter as exc:
                wait = _retry_seconds(exc.retry_after)
                if part.first or wait > self.config.max_inline_wait:
                    raise RateLimited(NAME, wait, "telegram flood control") from exc
                await asyncio.sleep(wait)
            except BadRequest as exc:
                if html and "can't parse entities" in exc.message.lower():
                    html = False  # our markup was wrong; the words still matter more
                    continue
                raise PermanentDeliveryError(NAME, f"bad request: {self._clean(exc)}") from exc
            except Exception as exc:
                raise self._delivery_error(exc) from exc

    async def _post(self, message: OutboundMessage, part: _Part, *, html: bool) -> Message:
        meta = message.metadata
        in_group = meta.get("chat_type") in GROUP_TYPES
        reply = (
            ReplyParameters(int(meta["message_id"]), allow_sending_without_reply=True)
            if part.first and in_group and meta.get("message_id", "").isdigit()
            else None
        )
        thread = thread_of(meta)
        return await self._bot().send_message(
            chat_id=message.conversation_key,
            text=telegram_html(part.text) if html else strip_markdown(part.text),
            parse_mode=ParseMode.HTML if html else None,
            reply_markup=part.markup,
            reply_parameters=reply,
            message_thread_id=thread,
        )

    @staticmethod
    def retry_seconds(exc: RetryAfter) -> float:
        return _retry_seconds(exc.retry_after)

    def delivery_error(self, exc: Exception) -> Exception:
        return self._delivery_error(exc)

    def _delivery_error(self, exc: Exception) -> Exception:
        """SDK failures as delivery errors: what will never work is permanent, the rest is retried."""
        reason = self._clean(exc)
        if isinstance(exc, Forbidden):
            return PermanentDeliveryError(NAME, f"forbidden: {reason}")  # blocked, kicked, deactivated
        if isinstance(exc, ChatMigrated):
            return PermanentDeliveryError(NAME, f"group moved to chat {exc.new_chat_id}")
        if isinstance(exc, InvalidToken):
            return PermanentDeliveryError(NAME, "bot token rejected by Telegram")
        if isinstance(exc, TimedOut):
            return TransientDeliveryError(NAME, f"timed out: {reason}")
        if isinstance(exc, (NetworkError, TelegramError)):
            return TransientDeliveryError(NAME, f"network: {reason}")
        return exc

    def _clean(self, exc: Exception) -> str:
        """The error text without the token, which appears in Bot API URLs."""
        text = exc.message if isinstance(exc, TelegramError) else str(exc)
        return text.replace(self.config.token, "<token>")


def _parse_update(body: bytes) -> Update:
    """The Update PTB builds from a body whose shape `channels.telegram.payload` has checked.

    PTB reads many optional fields the models leave open (photos, stickers, polls...); a wrong
    type in one of those is still this update being broken, so it is `BadInput` too.
    """
    data = update_data(body)
    try:
        return Update.de_json(data, None)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError) as exc:
        raise BadInput(f"malformed Telegram Update: {type(exc).__name__}") from exc
