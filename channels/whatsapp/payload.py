"""The shape of a Cloud API webhook delivery, as far as csbot reads it.

One POST carries `entry[].changes[].value` objects; each value holds customer `messages` (with
the senders' `contacts`) or `statuses` of messages we sent. Unknown fields are allowed, since
Meta adds them often; the fields read must have the types checked here, or the delivery is
`BadInput` naming the field.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from channels.edge import CleanStr, Lenient, load_json, validated

Id = Annotated[CleanStr, Field(max_length=256)]  # wamid.… ids run to about 60 characters
Text = Annotated[CleanStr, Field(max_length=8192)]


class Profile(Lenient):
    name: Annotated[CleanStr, Field(max_length=256)] = ""


class Contact(Lenient):
    wa_id: Id = ""
    profile: Profile = Profile()


class TextBody(Lenient):
    body: Text = ""


class Caption(Lenient):
    caption: Text = ""


class Reply(Lenient):
    id: Id = ""
    title: Text = ""


class Interactive(Lenient):
    type: Id = ""
    button_reply: Reply | None = None
    list_reply: Reply | None = None


class QuickReply(Lenient):
    text: Text = ""
    payload: Text = ""


class Message(Lenient):
    id: Id
    sender: Id = Field(alias="from")
    timestamp: Annotated[CleanStr, Field(max_length=12, pattern=r"^\d*$")] = ""
    type: Id = ""
    text: TextBody | None = None
    interactive: Interactive | None = None
    button: QuickReply | None = None
    image: Caption | None = None
    video: Caption | None = None
    document: Caption | None = None


class StatusError(Lenient):
    code: int = 0
    title: Text = ""


class Status(Lenient):
    id: Id
    status: Id = ""
    recipient_id: Id = ""
    errors: list[StatusError] = []


class Metadata(Lenient):
    phone_number_id: Id = ""


class Value(Lenient):
    messaging_product: Id = ""
    metadata: Metadata = Metadata()
    contacts: list[Contact] = []
    messages: list[Message] = []
    statuses: list[Status] = []


class Change(Lenient):
    field: Id = ""
    value: Value = Value()


class Entry(Lenient):
    id: Id = ""
    changes: list[Change] = []


class Delivery(Lenient):
    object: Id = ""
    entry: list[Entry] = []


def delivery(body: bytes) -> Delivery:
    """The webhook body as a `Delivery`; `BadInput` for non-JSON or a field of the wrong type."""
    return validated(Delivery, load_json(body, "WhatsApp webhook"), "WhatsApp webhook")
