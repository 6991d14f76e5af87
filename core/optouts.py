"""The opt-out register: who asked (STOP) not to receive messages on a channel.

Carrier rules and customers' trust both require that a STOP is honoured on every later send,
from every worker, so the register is a port the SMS channel checks before each send and
updates from inbound keywords and from the platform's own "unsubscribed" errors.
"""

from __future__ import annotations

from typing import Protocol


class OptOuts(Protocol):
    """Opt-out state per (channel, address); an address is the customer's platform address
    exactly as it arrives (`+15551234567`, `whatsapp:+15551234567`)."""

    async def is_opted_out(self, channel: str, address: str) -> bool: ...

    async def opt_out(self, channel: str, address: str, *, reason: str = "") -> None:
        """Record an opt-out; idempotent. `reason` says what triggered it (a keyword, an error code)."""

    async def opt_in(self, channel: str, address: str) -> None:
        """Lift an opt-out (START/UNSTOP); idempotent, a no-op for an address never opted out."""
