"""Partial answers on Telegram (`core.streaming.StreamView`).

Private chats get a draft (`sendMessageDraft`, open to every bot since Bot API 9.5): an
ephemeral preview Telegram animates as it grows and drops when the real message arrives, so
the final answer is an ordinary `sendMessage` and a re-run simply draws the same draft again
(its `draft_id` is the inbound message's id). Groups have no drafts: the first partial is a
message replying to the customer's, later partials edit it (`editMessageText`), and the final
answer edits it once more (see `TelegramChannel.send`).

Partials have their own budget, one push a second per chat by default, apart from the send
budget the final answer needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from telegram import Bot, ReplyParameters
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, RetryAfter

from channels.shaping import split_text, telegram_html, utf16_len
from core.errors import DeliveryError, PermanentDeliveryError, RateLimited
from core.streaming import StreamTarget

if TYPE_CHECKING:
    from channels.telegram.channel import TelegramChannel

NOT_MODIFIED = "message is not modified"
NOT_FOUND = "message to edit not found"


GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})  # chats Telegram rates per group (20/min)


def private(target: StreamTarget) -> bool:
    return target.metadata.get("chat_type", str(ChatType.PRIVATE)) == ChatType.PRIVATE


def thread_of(metadata: Mapping[str, str]) -> int | None:
    """The forum topic the customer wrote in, where the answer belongs too."""
    value = metadata.get("thread_id", "")
    return int(value) if value.isdigit() else None


def partial_html(text: str, limit: int) -> str:
    """The partial as Telegram HTML, cut to what one message holds (the final splits)."""
    if utf16_len(text) > limit:
        text = split_text(text, limit - 1, measure=utf16_len)[0] + "…"
    return telegram_html(text)


class TelegramStreamView:
    def __init__(self, channel: TelegramChannel) -> None:
        self._channel = channel

    def lasting(self, target: StreamTarget) -> bool:
        return not private(target)

    async def show(self, target: StreamTarget, text: str, ref: str | None) -> str | None:
        await self._take_budget(target)
        html = partial_html(text, self._channel.capabilities.max_message_chars)
        bot = self._channel.bot()
        try:
            if private(target):
                await bot.send_message_draft(
                    chat_id=int(target.conversation_key), draft_id=target.message_id, text=html,
                    parse_mode=ParseMode.HTML, message_thread_id=thread_of(target.metadata),
                )
                return None
            if ref is not None:
                await edit_text(bot, target.conversation_key, int(ref), html)
                return ref
            return await self._post(bot, target, html)
        except RetryAfter as exc:
            raise RateLimited("telegram", self._channel.retry_seconds(exc), "telegram flood control (partial)") from exc
        except DeliveryError:
            raise
        except Exception as exc:
            raise self._channel.delivery_error(exc) from exc

    async def withdraw(self, target: StreamTarget, ref: str) -> None:
        try:
            await self._channel.bot().delete_message(chat_id=target.conversation_key, message_id=int(ref))
        except Exception as exc:
            raise self._channel.delivery_error(exc) from exc

    async def _post(self, bot: Bot, target: StreamTarget, html: str) -> str:
        reply_to = target.metadata.get("message_id", "")
        sent = await bot.send_message(
            chat_id=target.conversation_key, text=html, parse_mode=ParseMode.HTML,
            reply_parameters=ReplyParameters(int(reply_to), allow_sending_without_reply=True) if reply_to.isdigit() else None,
            message_thread_id=thread_of(target.metadata),
        )
        return str(sent.message_id)

    async def _take_budget(self, target: StreamTarget) -> None:
        """The partials' own pace; in a group each edit also takes from the chat's send budget,
        since Telegram's 20 messages a minute per group counts them as well (the final answer
        then waits its turn rather than meet flood control)."""
        key, chat_type = target.conversation_key, target.metadata.get("chat_type", "")
        wait = await self._channel.limiter.reserve(f"telegram:partial:{key}", per_second=self._channel.config.partial_per_second)
        if wait <= 0 and chat_type in GROUP_TYPES:
            wait = await self._channel.chat_wait(key, chat_type)
        if wait > 0:
            raise RateLimited("telegram", wait, "partial answer budget")


async def edit_text(bot: Bot, chat_id: str, message_id: int, html: str, **markup: object) -> None:
    """`editMessageText`, where "not modified" is success: a retried final edit, or a partial
    already showing this text, changes nothing and is no error."""
    try:
        await bot.edit_message_text(html, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML, **markup)  # type: ignore[arg-type]
    except BadRequest as exc:
        if NOT_MODIFIED in exc.message.lower():
            return
        if NOT_FOUND in exc.message.lower():
            raise PermanentDeliveryError("telegram", "streamed message is gone") from exc
        raise
