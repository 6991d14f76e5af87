"""A local fake of the Slack Web API: real HTTP on 127.0.0.1, the wire format slack_sdk speaks.

Point the real `AsyncWebClient` at `fake.api_url` (`base_url=`). Every call is recorded (method,
decoded parameters, token); replies follow Slack's shapes (`{"ok": true, ...}` with HTTP 200,
`{"ok": false, "error": ...}` with HTTP 200 for API errors, HTTP 429 plus `Retry-After` for rate
limits). Failures are scripted per method and consumed in order:

    async with FakeSlackApi(token="xoxb-test") as fake:
        fake.script("chat.postMessage", RateLimit(retry_after=1))
        fake.script("chat.postMessage", ApiError("channel_not_found"))
        ...
        fake.posts  # the chat.postMessage calls Slack accepted
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web


@dataclass(frozen=True, slots=True)
class RateLimit:
    """HTTP 429 with `Retry-After` (seconds), as Slack answers a rate-limited method."""

    retry_after: int = 1


@dataclass(frozen=True, slots=True)
class ApiError:
    """HTTP 200 with `{"ok": false, "error": code}`: channel_not_found, not_in_channel, ..."""

    error: str


@dataclass(frozen=True, slots=True)
class ServerError:
    """A bare HTTP 5xx (Slack's edge having a bad moment)."""

    status: int = 503


@dataclass(frozen=True, slots=True)
class Slow:
    """Answer normally, but only after `seconds` (the request is accepted and recorded first)."""

    seconds: float


Scripted = RateLimit | ApiError | ServerError | Slow


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the fake received it. `accepted` is False when it answered with an error."""

    method: str
    params: dict[str, Any]
    token: str
    content_type: str
    at: float
    accepted: bool
    ts: str = ""

    @property
    def channel(self) -> str:
        return str(self.params.get("channel", ""))

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def thread_ts(self) -> str | None:
        value = self.params.get("thread_ts")
        return None if value is None else str(value)

    @property
    def blocks(self) -> list[dict[str, Any]] | None:
        return self.params.get("blocks")


@dataclass
class FakeSlackApi:
    """The fake server. Use as an async context manager, or `await start()` / `await stop()`."""

    token: str = "xoxb-test"
    bot_user_id: str = "UBOT"
    bot_id: str = "BBOT"
    team_id: str = "T0001"
    calls: list[Call] = field(default_factory=list)
    _scripts: dict[str, deque[Scripted]] = field(default_factory=lambda: defaultdict(deque))
    _runner: web.AppRunner | None = None
    _port: int = 0
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    # What each message shows now, by ts: posted or streamed, then appended to, updated, deleted.
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> FakeSlackApi:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp keeps the bound socket here; port 0 → a free port
        assert server is not None and server.sockets
        self._port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlackApi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """What `AsyncWebClient(base_url=...)` / `SLACK_API_URL` should be."""
        return f"{self.url}/api/"

    # --- scripting and inspection --------------------------------------------------------

    def script(self, method: str, *outcomes: Scripted) -> None:
        """Queue outcomes for the next calls of `method`; once used up, calls succeed again."""
        self._scripts[method].extend(outcomes)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def posts(self) -> list[Call]:
        """chat.postMessage calls that Slack accepted (i.e. messages that exist)."""
        return [c for c in self.calls_to("chat.postMessage") if c.accepted]

    def visible(self, channel: str) -> list[dict[str, Any]]:
        """The channel's messages as they stand now, oldest first (text, thread_ts, streaming)."""
        return [m for ts, m in sorted(self.messages.items()) if m["channel"] == channel]

    # --- the API ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        token = _bearer(request) or str(params.pop("token", ""))
        outcome = self._scripts[method].popleft() if self._scripts[method] else None

        def record(accepted: bool, ts: str = "") -> None:
            self.calls.append(Call(method, params, token, request.content_type, time.time(), accepted, ts))

        if token != self.token:
            record(False)
            return _ok_false("not_authed" if not token else "invalid_auth")
        if isinstance(outcome, RateLimit):
            record(False)
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(outcome.retry_after)}
            )
        if isinstance(outcome, ApiError):
            record(False)
            return _ok_false(outcome.error)
        if isinstance(outcome, ServerError):
            record(False)
            return web.Response(status=outcome.status, text="upstream error", content_type="text/html")
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            record(False)
            return _ok_false("unknown_method")
        body, ts = handler(params)
        record(body.get("ok", False), ts)
        if isinstance(outcome, Slow):
            await asyncio.sleep(outcome.seconds)
        return web.json_response(body)

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _auth_test(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return {
            "ok": True,
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "csbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }, ""

    def _chat_postMessage(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        channel = str(params.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}, ""
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}, ""
        ts = self._next_ts()
        message = {"type": "message", "text": params.get("text", ""), "user": self.bot_user_id, "bot_id": self.bot_id, "ts": ts}
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        self._keep(channel, ts, params.get("text", ""), params.get("thread_ts"), blocks=params.get("blocks"))
        return {"ok": True, "channel": channel, "ts": ts, "message": message}, ts

    def _keep(self, channel: str, ts: str, text: str, thread_ts: Any, *, streaming: bool = False, blocks: Any = None) -> None:
        self.messages[ts] = {"channel": channel, "ts": ts, "text": text, "thread_ts": thread_ts,
                             "streaming": streaming, "blocks": blocks}

    def _chat_update(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        if not params.get("channel") or not params.get("ts"):
            return {"ok": False, "error": "message_not_found"}, ""
        kept = self.messages.get(str(params["ts"]))
        if kept is not None:  # messages this fake never saw posted (older tests) are updated blind
            if kept["channel"] != params["channel"]:
                return {"ok": False, "error": "message_not_found"}, ""
            kept.update(text=params.get("text", ""), blocks=params.get("blocks"))
        return {"ok": True, "channel": params["channel"], "ts": params["ts"], "text": params.get("text", "")}, str(params["ts"])

    def _chat_delete(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        kept = self.messages.get(str(params.get("ts", "")))
        if kept is None or kept["channel"] != params.get("channel"):
            return {"ok": False, "error": "message_not_found"}, ""
        del self.messages[kept["ts"]]
        return {"ok": True, "channel": kept["channel"], "ts": kept["ts"]}, kept["ts"]

    def _chat_startStream(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Slack's streaming API: a message in a thread, to a named recipient outside DMs."""
        channel = str(params.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}, ""
        if not params.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}, ""
        if not channel.startswith("D") and not (params.get("recipient_user_id") and params.get("recipient_team_id")):
            return {"ok": False, "error": "missing_recipient_user_id"}, ""
        ts = self._next_ts()
        self._keep(channel, ts, str(params.get("markdown_text", "")), params["thread_ts"], streaming=True)
        return {"ok": True, "channel": channel, "ts": ts}, ts

    def _streaming(self, params: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """The message a stream call names, while it still streams; else (None, the error)."""
        kept = self.messages.get(str(params.get("ts", "")))
        if kept is None or kept["channel"] != params.get("channel"):
            return None, "message_not_found"
        return (kept, "") if kept["streaming"] else (None, "message_not_in_streaming_state")

    def _chat_appendStream(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        kept, error = self._streaming(params)
        if kept is None:
            return {"ok": False, "error": error}, ""
        kept["text"] += str(params.get("markdown_text", ""))
        return {"ok": True, "channel": kept["channel"], "ts": kept["ts"]}, kept["ts"]

    def _chat_stopStream(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        response, ts = self._chat_appendStream(params)  # stopStream may carry a last piece of text
        if response["ok"]:
            kept = self.messages[ts]
            kept["streaming"] = False
            kept["blocks"] = params.get("blocks") or kept["blocks"]
        return response, ts

    def _conversations_info(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        channel = str(params.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}, ""
        is_im = channel.startswith("D")
        return {"ok": True, "channel": {"id": channel, "is_im": is_im, "is_channel": not is_im, "is_archived": False}}, ""


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query string plus body, JSON or form-encoded; JSON-encoded form fields (blocks) decoded."""
    params: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if not raw:
        return params
    if request.content_type == "application/json":
        body = json.loads(raw)
        if isinstance(body, dict):
            params.update(body)
        return params
    for key, value in parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
        params[key] = _maybe_json(value) if key in ("blocks", "attachments", "metadata") else value
    return params


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""


def _ok_false(error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error})
