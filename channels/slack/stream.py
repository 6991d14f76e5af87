"""Partial answers on Slack (`core.streaming.StreamView`).

In a channel thread the bot uses Slack's streaming API: `chat.startStream` opens a message
that grows with every `chat.appendStream`, rendered by Slack as it arrives. The API takes only
appended text and needs a thread to hang off, so a DM (top level) and every text that is not
an extension of what is shown (a regenerated answer, a re-run after a crash that does not
know what was appended) fall back to a plain message replaced with `chat.update`.

The reference names the kind: `s:<ts>` for a stream, `m:<ts>` for a plain message. The final
answer (`SlackChannel.send`) stops a stream and edits the message into the final text and
blocks, so the thread holds one answer.

Partials have their own budget (one push a second per channel), apart from the send budget.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from typing import TYPE_CHECKING

import aiohttp
from slack_sdk.errors import SlackApiError

from channels.slack.client import delivery_error
from channels.slack.format import escape_mrkdwn
from channels.slack.spec import NAME
from core.errors import RateLimited, TransientDeliveryError
from core.streaming import StreamTarget

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from channels.slack.channel import SlackChannel

STREAM, MESSAGE = "s:", "m:"
STREAM_TEXT_LIMIT = 12_000  # markdown_text per call
REMEMBERED = 1000  # streams whose shown text this process keeps, to append only the new part


def kind_and_ts(ref: str) -> tuple[str, str]:
    """("s:" or "m:", ts) of a stream reference."""
    return ref[:2], ref[2:]


class SlackStreamView:
    def __init__(self, channel: SlackChannel) -> None:
        self._channel = channel
        self._shown: OrderedDict[str, str] = OrderedDict()

    def lasting(self, target: StreamTarget) -> bool:
        return True

    async def show(self, target: StreamTarget, text: str, ref: str | None) -> str | None:
        where = target.metadata.get("channel", "") or target.conversation_key.partition(":")[0]
        await self._take_budget(where, posts=ref is None and not streamable(target))
        client = self._channel.client
        try:
            return await self._show(client, target, where, text, ref)
        except SlackApiError as exc:
            raise delivery_error(exc) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise TransientDeliveryError(NAME, f"network: {type(exc).__name__}") from None

    async def _show(self, client: AsyncWebClient, target: StreamTarget, where: str, text: str, ref: str | None) -> str:
        meta = target.metadata
        if ref is None:
            if streamable(target):
                response = await client.chat_startStream(
                    channel=where, thread_ts=meta["thread_ts"], markdown_text=text[:STREAM_TEXT_LIMIT],
                    recipient_user_id=meta["user"], recipient_team_id=meta["team"],
                )
                return self._remember(STREAM + str(response["ts"]), text)
            response = await client.chat_postMessage(
                channel=where, thread_ts=meta.get("thread_ts") or None, text=escape_mrkdwn(text),
                unfurl_links=False, unfurl_media=False,
            )
            return MESSAGE + str(response["ts"])
        kind, ts = kind_and_ts(ref)
        shown = self._shown.get(ref)
        if kind == STREAM and shown is not None and text.startswith(shown) and len(text) <= STREAM_TEXT_LIMIT:
            if len(text) > len(shown):
                await client.chat_appendStream(channel=where, ts=ts, markdown_text=text[len(shown):])
            return self._remember(ref, text)
        if kind == STREAM:
            await stop_stream(client, where, ts)
            self._shown.pop(ref, None)
        await client.chat_update(channel=where, ts=ts, text=escape_mrkdwn(text))
        return MESSAGE + ts

    async def withdraw(self, target: StreamTarget, ref: str) -> None:
        where = target.metadata.get("channel", "") or target.conversation_key.partition(":")[0]
        kind, ts = kind_and_ts(ref)
        client = self._channel.client
        try:
            if kind == STREAM:
                await stop_stream(client, where, ts)
            await client.chat_delete(channel=where, ts=ts)
        except SlackApiError as exc:
            raise delivery_error(exc) from None

    def _remember(self, ref: str, text: str) -> str:
        self._shown[ref] = text
        self._shown.move_to_end(ref)
        while len(self._shown) > REMEMBERED:
            self._shown.popitem(last=False)
        return ref

    async def _take_budget(self, where: str, *, posts: bool) -> None:
        """The partials' own pace; a partial that posts a new message (the first one in a DM)
        also takes from the channel's send budget, since Slack's one-message-a-second limit
        counts it like any reply."""
        wait = await self._channel.limiter.reserve(f"slack:partial:{where}", per_second=self._channel.config.partial_per_second)
        if wait <= 0 and posts:
            wait = await self._channel.post_wait(where)
        if wait > 0:
            raise RateLimited(NAME, wait, "partial answer budget")


def streamable(target: StreamTarget) -> bool:
    """Slack streams only in threads, to a named recipient."""
    meta = target.metadata
    return bool(meta.get("thread_ts") and meta.get("user") and meta.get("team"))


async def stop_stream(client: AsyncWebClient, channel: str, ts: str) -> None:
    """End a stream, if it still runs: one stopped by an earlier attempt answers with an error,
    which changes nothing."""
    with contextlib.suppress(SlackApiError):
        await client.chat_stopStream(channel=channel, ts=ts)

