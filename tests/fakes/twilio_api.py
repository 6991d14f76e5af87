"""A local Twilio REST server for tests: real HTTP on 127.0.0.1, the documented wire format.

twilio-python talks to it unmodified once `client.api.base_url` points here. It serves
`POST /2010-04-01/Accounts/{sid}/Messages.json` (form-encoded, HTTP basic auth checked) and
answers the Message resource JSON with a fresh `SM...` sid; 21610 for an unsubscribed
recipient, 21211 for a malformed number, and scripted errors (429/20429, 5xx) for the next N
calls. Every request is recorded. Also signs inbound webhooks the way Twilio does.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.fakes.threaded_server import ThreadedServer

_ADDRESS = re.compile(r"^(whatsapp:)?\+[1-9]\d{6,14}$")


@dataclass(frozen=True, slots=True)
class Call:
    path: str
    authorized: bool
    params: dict[str, str]
    at: float


@dataclass(frozen=True, slots=True)
class SentMessage:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str


@dataclass(slots=True)
class _Failure:
    status: int
    code: int
    message: str
    retry_after: int | None = None  # seconds, sent as a Retry-After header


def signed_form(auth_token: str, url: str, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """A webhook body and headers exactly as Twilio sends them: form-encoded, with
    X-Twilio-Signature = base64(HMAC-SHA1(token, url + sorted name/value pairs))."""
    signature = RequestValidator(auth_token).compute_signature(url, params)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return urlencode(params).encode(), headers


class FakeTwilioAPI(ThreadedServer):
    name = "fake-twilio"

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.calls: list[Call] = []
        self.messages: list[SentMessage] = []
        self._unsubscribed: set[str] = set()
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create_message)

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(self, times: int = 1, *, status: int, code: int, message: str, retry_after: int | None = None) -> None:
        """The next `times` authorized calls get this error (5xx: a Twilio-side failure) and are not processed."""
        with self._lock:
            self._failures.extend(_Failure(status, code, message, retry_after) for _ in range(times))

    def too_many_requests(self, times: int = 1, *, retry_after: int | None = None) -> None:
        """429/20429; with `retry_after`, also the `Retry-After` header an edge in front may add."""
        self.fail_next(times, status=429, code=20429, message="Too Many Requests", retry_after=retry_after)

    def unsubscribe(self, address: str) -> None:
        """The recipient texted STOP to Twilio: sends to it fail with 21610 until START."""
        with self._lock:
            self._unsubscribed.add(address)

    def resubscribe(self, address: str) -> None:
        with self._lock:
            self._unsubscribed.discard(address)

    def sent_to(self, address: str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.messages if m.to == address]

    # --- the API -----------------------------------------------------------------------------

    def _authorized(self, request: web.Request, sid: str) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid == sid and password == self.auth_token

    async def _create_message(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        params = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        authorized = self._authorized(request, sid)
        with self._lock:
            self.calls.append(Call(request.path, authorized, params, time.time()))
            failure = self._failures.pop(0) if authorized and self._failures else None
        if not authorized:
            return _error(401, 20003, "Authenticate")
        if failure is not None:
            response = _error(failure.status, failure.code, failure.message)
            if failure.retry_after is not None:
                response.headers["Retry-After"] = str(failure.retry_after)
            return response
        to, sender, body = params.get("To", ""), params.get("From", ""), params.get("Body", "")
        if not _ADDRESS.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not sender:
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if to in self._unsubscribed:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        message_sid = f"SM{next(self._ids):032x}"
        with self._lock:
            self.messages.append(SentMessage(message_sid, to, sender, body, params.get("StatusCallback", "")))
        return web.json_response(self._resource(message_sid, to, sender, body), status=201)

    def _resource(self, sid: str, to: str, sender: str, body: str) -> dict[str, Any]:
        now = formatdate(usegmt=True)
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "status": "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }


def _error(status: int, code: int, message: str) -> web.Response:
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    return web.json_response(body, status=status)
