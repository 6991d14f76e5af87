"""Slack's request URLs through slack-bolt's `AsyncApp`, reached from the neutral request.

Bolt verifies the v0 signature, answers `url_verification` and `ssl_check`, and routes events,
slash commands and block actions to the channel's listeners. It runs with
`process_before_response=True`, so a listener (which stores the message) finishes before Slack
gets its 200, and a listener that fails is a 500 Slack retries; retries then dedupe on the event
id in intake.

Bolt's own Starlette handler (`slack_bolt.adapter.starlette.async_handler`) is the same three
steps as `dispatch` below, but it decodes and JSON-parses the body *before* verifying it, so a
forged request of non-UTF-8 or deeply nested bytes raises instead of being refused (see
tests/channels/test_slack_bolt.py). The channel therefore checks the signature and the body's
shape first (`channels.slack.signature`, `channels.slack.payload`) and hands Bolt only requests
Slack signed and csbot can read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from channels.http import WebRequest, WebResponse
from channels.slack.config import SlackConfig
from core.errors import BadInput

ANY = re.compile(".*", re.DOTALL)


def bolt_app(config: SlackConfig, client: AsyncWebClient) -> AsyncApp:
    """An app for one workspace whose token is known: no `auth.test` call on a webhook."""

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=config.bot_token,
                               bot_user_id=config.bot_user_id)

    return AsyncApp(
        signing_secret=config.signing_secret,
        client=client,
        authorize=authorize,
        process_before_response=True,
        # The channel's own classification drops bot posts (its own included) in every channel.
        ignoring_self_events_enabled=False,
        ignoring_self_assistant_message_events_enabled=False,
        name="csbot",
    )


async def dispatch(app: AsyncApp, request: WebRequest, **context: Any) -> WebResponse:
    """Run `request` (verified and readable: see the module docstring) through `app`; `context`
    reaches the listeners as `context[...]`."""
    bolt_request = AsyncBoltRequest(
        body=request.body.decode("utf-8"), query=request.query_string, headers=dict(request.headers), context=context
    )
    answer = await app.async_dispatch(bolt_request)
    return WebResponse(answer.status, answer.body.encode("utf-8"), headers=answer.first_headers_without_set_cookie())


def refusal_response(error: BadInput) -> BoltResponse:
    """A listener's answer to input no retry can fix: Slack must not send it again."""
    return BoltResponse(status=error.status_code, body={"error": str(error)}, headers={"X-Slack-No-Retry": "1"})


def routable_click(payload: Mapping[str, Any]) -> bool:
    """Whether Bolt's action router can take this interaction (it reads the first action)."""
    return payload.get("type") == "block_actions" and bool(payload.get("actions"))
