"""Secrets masked where they enter: a customer's message before it is stored, a model's answer
before it is sent.

Masking at intake means the full number never reaches the database, the prompt, the logs or an
export, because every one of them reads the stored text. The mask keeps the last four digits
("[CARD ending 1111]"), which the entity extractor reads as `card_last4`: the turn still knows
which card the customer means. The masking itself is `core.nlu.redaction.mask_secrets`, the
same one the log filter uses, so what is hidden never differs between places.
"""

from __future__ import annotations

from dataclasses import replace

from core.botdef import Privacy
from core.messages import InboundMessage
from core.nlu.redaction import mask_secrets


def private_inbound(message: InboundMessage, privacy: Privacy) -> InboundMessage:
    """The message as it may be kept: secrets in its text masked, unless the bot turned that off."""
    if not privacy.mask_secrets or not message.text:
        return message
    masked = mask_secrets(message.text)
    return message if masked == message.text else replace(message, text=masked)


def private_answer(text: str, privacy: Privacy) -> str:
    """A generated answer as it may be sent: a model can echo or invent a card number."""
    return mask_secrets(text) if privacy.mask_secrets else text
