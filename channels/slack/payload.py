"""The shapes of what Slack posts, as far as csbot reads them.

Validation only: the handlers keep reading the parsed dicts, and these models guarantee that
every field they (and slack-bolt's router) touch has the type they expect (an object where
`.get` is called, a list where one is iterated, strings where strings are compared). Unknown fields are allowed: Slack adds
fields often, and an app must not break when it does.
"""

from __future__ import annotations

from typing import Any

from channels.edge import CleanStr, Lenient, load_json, validated



class Authorization(Lenient):
    user_id: CleanStr = ""
    is_bot: bool = False


class Ref(Lenient):
    id: CleanStr = ""


# Slack sends some ids as a string and some as an object with an `id` (Bolt reads both ways).
IdOrRef = CleanStr | Ref | None


class Event(Lenient):
    """The fields of an event that Bolt routes on, besides those `channels.slack.events` reads."""

    type: CleanStr
    user: IdOrRef = None
    channel: IdOrRef = None
    team: IdOrRef = None


class EventEnvelope(Lenient):
    """An Events API request: `url_verification` or `event_callback`."""

    type: CleanStr = ""
    challenge: CleanStr = ""
    event_id: CleanStr = ""
    team_id: CleanStr = ""
    event: Event | None = None
    authorizations: list[Authorization] | None = None


class ClickedMessage(Lenient):
    ts: CleanStr = ""
    thread_ts: CleanStr = ""


class Action(Lenient):
    action_id: CleanStr  # Slack always sends it, and Bolt routes on it
    block_id: CleanStr = ""
    value: CleanStr = ""
    action_ts: CleanStr = ""


class InteractionPayload(Lenient):
    """The JSON `payload` of an interactions request (`block_actions` and the others)."""

    type: CleanStr = ""
    user: Ref | None = None
    channel: Ref | None = None
    team: IdOrRef = None
    view: dict[str, Any] | None = None
    message: ClickedMessage | None = None
    actions: list[Action] | None = None
    trigger_id: CleanStr = ""
    response_url: CleanStr = ""


def event_envelope(body: bytes) -> dict[str, Any]:
    """The Events API body, checked against `EventEnvelope`; `BadInput` otherwise."""
    data = load_json(body, "Slack event body")
    validated(EventEnvelope, data, "Slack event body")
    return data


def interaction_payload(raw: str) -> dict[str, Any]:
    """An interaction's `payload` field, checked against `InteractionPayload`; `BadInput` otherwise."""
    data = load_json(raw.encode("utf-8"), "interaction payload")
    validated(InteractionPayload, data, "interaction payload")
    return data
