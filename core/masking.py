"""Masking who a customer is before it reaches the agents' channel.

Agents need enough to recognise a returning customer ("the one ending 0199"), not a full phone
number or chat id sitting in a Slack channel's history and search index.
"""

from __future__ import annotations

import re

BULLETS = "•••••"
_PHONE = re.compile(r"^\+?\d{7,15}$")


def mask_address(address: str) -> str:
    """A phone number keeps its country prefix and last four digits (+1•••••0199); any other id
    (a chat id, a Slack user) keeps only its last four characters."""
    address = address.removeprefix("whatsapp:").strip()
    if not address:
        return ""
    if _PHONE.match(address) and address.startswith("+"):
        return f"{address[:2]}{BULLETS}{address[-4:]}"
    if len(address) <= 4:
        return BULLETS
    return f"{BULLETS}{address[-4:]}"


def mask_name(name: str) -> str:
    """First name and the initial of the last: "Alice Smith" → "Alice S."."""
    parts = name.split()
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0]}."


def mask_customer(name: str, address: str) -> str:
    masked_name, masked_address = mask_name(name), mask_address(address)
    return f"{masked_name} ({masked_address})" if masked_name and masked_address else masked_name or masked_address
