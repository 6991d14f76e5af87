"""The fields csbot reads from Twilio's form posts, with the lengths Twilio's own values have.

Checked after the signature (which covers the raw values) and before any handler reads them:
a field longer than Twilio ever sends is refused with its name instead of failing an insert.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from channels.edge import CleanStr, Lenient, validated

Sid = Annotated[CleanStr, Field(max_length=64)]
Address = Annotated[CleanStr, Field(max_length=64)]  # E.164 or "whatsapp:+…"
Word = Annotated[CleanStr, Field(max_length=32)]



class IncomingSms(Lenient):
    """`POST /webhooks/twilio/sms`: a customer's text (or media) message."""

    MessageSid: Sid = ""
    SmsMessageSid: Sid = ""
    SmsSid: Sid = ""
    From: Address = ""
    To: Address = ""
    Body: Annotated[CleanStr, Field(max_length=8000)] = ""
    NumMedia: Word = "0"
    OptOutType: Word = ""
    ProfileName: CleanStr = ""


class StatusCallback(Lenient):
    """`POST /webhooks/twilio/status`: what became of a message we sent."""

    MessageSid: Sid = ""
    SmsSid: Sid = ""
    MessageStatus: Word = ""
    SmsStatus: Word = ""
    ErrorCode: Word = ""
    To: Address = ""


def check_form(model: type[Lenient], first_values: dict[str, str], what: str) -> None:
    """`BadInput` naming the field when the form does not fit `model`."""
    validated(model, first_values, what)
