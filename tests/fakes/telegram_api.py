"""A local Telegram Bot API server for tests: real HTTP on 127.0.0.1, the documented wire format.

python-telegram-bot talks to it unmodified (`Bot(token, base_url=f"{fake.url}/bot")`). It
answers `/bot<token>/<method>` with `{"ok": true, "result": ...}`, enforces what the real API
enforces and tests rely on (the token, 4096 characters of text after entity parsing, well-formed
HTML), records every call, and can be scripted to fail the next N calls of a method (429 with
`retry_after`, 403 blocked, ...). It runs in a thread with its own event loop so both async
tests and worker threads can reach it.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.threaded_server import ThreadedServer

ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span", "tg-spoiler", "tg-emoji", "blockquote"}
)
_JSON_FIELDS = frozenset({"reply_markup", "reply_parameters", "allowed_updates", "entities", "link_preview_options"})
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+=\"[^\"<>]*\")*)\s*>")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


@dataclass(frozen=True, slots=True)
class Call:
    """One request the fake received."""

    method: str
    token: str
    params: dict[str, Any]
    at: float


@dataclass(slots=True)
class _Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None = None


@dataclass(slots=True)
class _Chat:
    id: int
    type: str = "private"


def visible_text(text: str, parse_mode: str | None) -> str:
    """What the user sees: for HTML, the text with tags removed and entities decoded; raises
    ValueError when Telegram would answer "can't parse entities"."""
    if parse_mode is None:
        return text
    if parse_mode.upper() != "HTML":
        raise ValueError(f"parse mode {parse_mode} not supported by this fake")
    stack: list[str] = []
    out: list[str] = []
    position = 0
    for match in _TAG.finditer(text):
        out.append(_text_segment(text[position : match.start()]))
        closing, tag = match.group(1) == "/", match.group(2).lower()
        if tag not in ALLOWED_TAGS:
            raise ValueError(f"unsupported start tag \"{tag}\"")
        if closing:
            if not stack or stack.pop() != tag:
                raise ValueError(f"unmatched end tag \"{tag}\"")
        else:
            stack.append(tag)
        position = match.end()
    out.append(_text_segment(text[position:]))
    if stack:
        raise ValueError(f"can't find end tag corresponding to start tag \"{stack[-1]}\"")
    return "".join(out)


def _text_segment(segment: str) -> str:
    if "<" in segment or ">" in segment:
        raise ValueError("unescaped < or > in text")
    for index in (m.start() for m in re.finditer("&", segment)):
        if not _ENTITY.match(segment, index):
            raise ValueError("unescaped & in text")
    return html.unescape(segment)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeTelegramAPI(ThreadedServer):
    name = "fake-telegram"

    def __init__(self, token: str, *, username: str = "acme_support_bot") -> None:
        super().__init__()
        self.token = token
        self.username = username
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.calls: list[Call] = []
        self.webhook: dict[str, Any] = {}
        self._failures: dict[str, list[_Failure | None]] = {}  # None: let that call through
        self._blocked: set[int] = set()
        self._missing: set[int] = set()
        self._chats: dict[int, _Chat] = {}
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        # What each chat shows now: (chat id, message id) → the message, edits applied.
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}

    # --- routes ------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("POST", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/bot{token}/{method}", self._handle)

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        times: int = 1,
        *,
        status: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        after: int = 0,
    ) -> None:
        """Let `after` calls of `method` through, then fail the next `times` with this error."""
        with self._lock:
            queue = self._failures.setdefault(method, [])
            queue.extend([None] * after)
            queue.extend(_Failure(status, description, parameters) for _ in range(times))

    def flood(self, method: str = "sendMessage", *, retry_after: int, times: int = 1, after: int = 0) -> None:
        """429 Too Many Requests with `retry_after` seconds, as Telegram's flood control answers."""
        self.fail_next(
            method,
            times,
            status=429,
            description=f"Too Many Requests: retry after {retry_after}",
            parameters={"retry_after": retry_after},
            after=after,
        )

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: every send to the chat is 403 from now on."""
        with self._lock:
            self._blocked.add(chat_id)

    def forget_chat(self, chat_id: int) -> None:
        with self._lock:
            self._missing.add(chat_id)

    def chat(self, chat_id: int, chat_type: str) -> None:
        with self._lock:
            self._chats[chat_id] = _Chat(chat_id, chat_type)

    # --- inspection --------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Parameters of every sendMessage that succeeded, optionally for one chat."""
        with self._lock:
            return [
                c.params
                for c in self.calls
                if c.method == "sendMessage" and c.params.get("_ok") and (chat_id is None or str(c.params["chat_id"]) == str(chat_id))
            ]

    def visible(self, chat_id: int | str) -> list[str]:
        """The texts the chat shows now, oldest first (edits applied, deleted ones gone)."""
        with self._lock:
            return [m["text"] for (chat, _), m in sorted(self.messages.items()) if chat == int(chat_id)]

    def drafts(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Parameters of every sendMessageDraft that succeeded, optionally for one chat."""
        return [c.params for c in self.calls_to("sendMessageDraft")
                if c.params.get("_ok") and (chat_id is None or str(c.params["chat_id"]) == str(chat_id))]

    def edits(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Parameters of every editMessageText that changed a message."""
        return [c.params for c in self.calls_to("editMessageText")
                if c.params.get("_ok") and (chat_id is None or str(c.params["chat_id"]) == str(chat_id))]

    # --- the API -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params = await _params(request)
        call = Call(method, token, params, time.time())
        with self._lock:
            self.calls.append(call)
        if token != self.token:
            return _error(401, "Unauthorized")
        with self._lock:
            queued = self._failures.get(method)
            failure = queued.pop(0) if queued else None
        if failure is not None:
            return _error(failure.status, failure.description, failure.parameters)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found")
        status, result = handler(params)
        if status != 200:
            return _error(status, result)
        params["_ok"] = True
        return web.json_response({"ok": True, "result": result})

    def _me(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Acme Support", "username": self.username}

    def _api_getMe(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, self._me()

    def _api_setWebhook(self, params: dict[str, Any]) -> tuple[int, Any]:
        self.webhook = dict(params)
        return 200, True

    def _api_sendChatAction(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, True

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, True

    def _api_sendMessage(self, params: dict[str, Any]) -> tuple[int, Any]:
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, ValueError):
            return 400, "Bad Request: chat not found"
        if chat_id in self._blocked:
            return 403, "Forbidden: bot was blocked by the user"
        if chat_id in self._missing:
            return 400, "Bad Request: chat not found"
        text = str(params.get("text", ""))
        try:
            shown = visible_text(text, params.get("parse_mode"))
        except ValueError as exc:
            return 400, f"Bad Request: can't parse entities: {exc}"
        if not shown.strip():
            return 400, "Bad Request: message text is empty"
        if utf16_units(shown) > 4096:
            return 400, "Bad Request: message is too long"
        params["_visible"] = shown
        params["_message_id"] = next(self._ids)
        chat = self._chats.get(chat_id, _Chat(chat_id))
        message: dict[str, Any] = {
            "message_id": params["_message_id"],
            "date": int(time.time()),
            "chat": {"id": chat.id, "type": chat.type},
            "from": self._me(),
            "text": shown,
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat.id, message["message_id"])] = message
        return 200, message

    def _shown(self, params: dict[str, Any]) -> tuple[str | None, str]:
        """The visible text of a text parameter, or (None, the error description)."""
        try:
            shown = visible_text(str(params.get("text", "")), params.get("parse_mode"))
        except ValueError as exc:
            return None, f"Bad Request: can't parse entities: {exc}"
        if not shown.strip():
            return None, "Bad Request: message text is empty"
        if utf16_units(shown) > 4096:
            return None, "Bad Request: message is too long"
        return shown, ""

    def _api_editMessageText(self, params: dict[str, Any]) -> tuple[int, Any]:
        try:
            key = (int(params["chat_id"]), int(params["message_id"]))
        except (KeyError, ValueError):
            return 400, "Bad Request: message to edit not found"
        message = self.messages.get(key)
        if message is None:
            return 400, "Bad Request: message to edit not found"
        shown, error = self._shown(params)
        if shown is None:
            return 400, error
        markup = params.get("reply_markup")
        if shown == message["text"] and markup == message.get("reply_markup"):
            return 400, ("Bad Request: message is not modified: specified new message content and reply markup are "
                         "exactly the same as a current content and reply markup of the message")
        message["text"] = shown
        message["edit_date"] = int(time.time())
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        params["_visible"] = shown
        return 200, message

    def _api_sendMessageDraft(self, params: dict[str, Any]) -> tuple[int, Any]:
        """Bot API 9.5: a growing preview in a private chat, gone when the real message comes."""
        try:
            chat_id, draft_id = int(params["chat_id"]), int(params["draft_id"])
        except (KeyError, ValueError):
            return 400, "Bad Request: chat_id and draft_id are required"
        if draft_id == 0:
            return 400, "Bad Request: draft_id must be non-zero"
        if self._chats.get(chat_id, _Chat(chat_id)).type != "private":
            return 400, "Bad Request: drafts can be sent only to private chats"
        shown, error = self._shown(params)
        if shown is None:
            return 400, error
        params["_visible"] = shown
        return 200, True

    def _api_deleteMessage(self, params: dict[str, Any]) -> tuple[int, Any]:
        try:
            key = (int(params["chat_id"]), int(params["message_id"]))
        except (KeyError, ValueError):
            return 400, "Bad Request: message to delete not found"
        if self.messages.pop(key, None) is None:
            return 400, "Bad Request: message to delete not found"
        return 200, True


async def _params(request: web.Request) -> dict[str, Any]:
    """Bot API parameters arrive as a query string, form fields (PTB sends nested objects as
    JSON strings) or a JSON body; all three are accepted, like the real API."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
        return params
    if request.can_read_body:
        form = await request.post()
        for key, value in form.items():
            params[key] = json.loads(value) if key in _JSON_FIELDS and isinstance(value, str) else value
    return params


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
