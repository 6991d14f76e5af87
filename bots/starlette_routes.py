"""The one place the web framework meets the channels: a neutral route as a Starlette endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from channels.http import Handler, WebRequest, WebResponse

Endpoint = Callable[[Request], Awaitable[Response]]


async def web_request(request: Request) -> WebRequest:
    """The raw body and lower-case headers, exactly as received (signatures are over these)."""
    return WebRequest(
        method=request.method,
        path=request.url.path,
        body=await request.body(),
        headers={key.lower(): value for key, value in request.headers.items()},
        query_string=request.url.query,
    )


def starlette_response(response: WebResponse) -> Response:
    return Response(response.body, status_code=response.status, headers=dict(response.headers), media_type=response.media_type)


def endpoint(handler: Handler) -> Endpoint:
    async def serve(request: Request) -> Response:
        return starlette_response(await handler(await web_request(request)))

    return serve
