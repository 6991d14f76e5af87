"""The neutral HTTP exchange a channel's routes speak: bytes and headers in, bytes and a status out.

Channels never see the web framework. Signature checks need the raw body exactly as sent, and a
platform's retry logic depends only on the status and body, so this is all a handler needs; the
adapter in `bots/` turns it into whatever the server runs (Starlette today).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True, slots=True)
class WebRequest:
    """One request as the platform sent it. Header names are lower-case."""

    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    query_string: str = ""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def query(self) -> dict[str, str]:
        """The query parameters, the first value of each (verification handshakes use a few)."""
        params: dict[str, str] = {}
        for key, value in parse_qsl(self.query_string, keep_blank_values=True):
            params.setdefault(key, value)
        return params


@dataclass(frozen=True, slots=True)
class WebResponse:
    """What the platform receives back."""

    status: int = 200
    body: bytes = b""
    media_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> WebResponse:
        return cls(status, json.dumps(data, separators=(",", ":")).encode(), "application/json", headers or {})

    @classmethod
    def text(cls, text: str, status: int = 200, media_type: str = "text/plain") -> WebResponse:
        return cls(status, text.encode("utf-8"), media_type)

    @classmethod
    def empty(cls, status: int = 200) -> WebResponse:
        return cls(status)

    def json_body(self) -> Any:
        """The body parsed back (for callers that inspect an answer, such as tests)."""
        return json.loads(self.body) if self.body else None


Handler = Callable[[WebRequest], Awaitable[WebResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """A method and path a channel serves, and the handler that answers it."""

    method: str
    path: str
    handler: Handler
