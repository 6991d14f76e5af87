"""A local WhatsApp Cloud API (Graph API) server for tests: real HTTP on 127.0.0.1.

It answers `POST /{version}/{phone-number-id}/messages` as Meta documents it: a bearer token is
required (190 otherwise), the body must be a `messaging_product: whatsapp` text (body of at most
4096 characters) or template message, and a free-form text to a customer who last wrote more
than 24 hours ago is refused with code 131047, the way the platform enforces the
customer-service window. Success is `{"messaging_product", "contacts", "messages": [{"id": "wamid…"}]}`.
Every call is recorded, and the next calls can be scripted to fail with a Graph error.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.threaded_server import ThreadedServer

VERSION = "v21.0"
WINDOW_SECONDS = 24 * 3600
TEXT_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Call:
    phone_number_id: str
    authorization: str
    body: Any
    status: int
    at: float


@dataclass(frozen=True, slots=True)
class GraphFailure:
    status: int
    code: int
    message: str


class FakeWhatsAppAPI(ThreadedServer):
    name = "fake-whatsapp"

    def __init__(self, token: str, phone_number_id: str) -> None:
        super().__init__()
        self.token = token
        self.phone_number_id = phone_number_id
        self.calls: list[Call] = []
        self._last_customer_message: dict[str, float] = {}
        self._failures: list[GraphFailure] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def api_url(self) -> str:
        return f"{self.url}/{VERSION}"

    def routes(self, app: web.Application) -> None:
        app.router.add_route("POST", "/{version}/{phone}/messages", self._messages)

    # --- scripting -------------------------------------------------------------------------

    def customer_wrote(self, wa_id: str, at: float | None = None) -> None:
        """The customer's last message reached the business at `at` (now by default)."""
        with self._lock:
            self._last_customer_message[wa_id] = time.time() if at is None else at

    def fail_next(self, *, status: int, code: int, message: str, times: int = 1) -> None:
        with self._lock:
            self._failures.extend(GraphFailure(status, code, message) for _ in range(times))

    # --- inspection ------------------------------------------------------------------------

    def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        """Bodies of the messages accepted, optionally to one customer."""
        with self._lock:
            return [c.body for c in self.calls if c.status == 200 and (to is None or c.body.get("to") == to)]

    # --- the API ---------------------------------------------------------------------------

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        status, answer = self._answer(request, body)
        with self._lock:
            self.calls.append(Call(request.match_info["phone"], request.headers.get("Authorization", ""), body, status, time.time()))
        return web.json_response(answer, status=status)

    def _answer(self, request: web.Request, body: Any) -> tuple[int, dict[str, Any]]:
        if request.match_info["version"] != VERSION or request.match_info["phone"] != self.phone_number_id:
            return _error(400, 100, "Unsupported post request. Object does not exist")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, 190, "Invalid OAuth access token")
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return _error(failure.status, failure.code, failure.message)
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp" or not body.get("to"):
            return _error(400, 100, "Invalid parameter: messaging_product and to are required")
        kind = body.get("type")
        if kind == "text":
            text = (body.get("text") or {}).get("body")
            if not isinstance(text, str) or not text or len(text) > TEXT_LIMIT:
                return _error(400, 100, f"Invalid parameter: text.body must be 1-{TEXT_LIMIT} characters")
            with self._lock:
                last = self._last_customer_message.get(body["to"])
            if last is None or time.time() - last > WINDOW_SECONDS:
                return _error(400, 131047, "Re-engagement message: more than 24 hours have passed since the customer last replied")
        elif kind == "template":
            if not (body.get("template") or {}).get("name"):
                return _error(400, 132000, "Template name is required")
        else:
            return _error(400, 131051, f"Unsupported message type {kind!r}")
        wamid = f"wamid.FAKE{next(self._ids):06d}"
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                     "messages": [{"id": wamid}]}


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "FAKE"}}
