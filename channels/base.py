"""What every channel adapter offers the rest of the system once it is built."""

from __future__ import annotations

from typing import Protocol

from core.capabilities import Capabilities
from core.messages import Delivered, OutboundMessage


class Channel(Protocol):
    """A platform adapter's outbound side, and what it can show (`core.capabilities.Capabilities`).

    Its inbound routes are declared by its package's `ChannelSpec`; handlers hand verified,
    parsed messages to intake (persist + enqueue) before answering 2xx.
    """

    name: str
    capabilities: Capabilities

    async def send(self, message: OutboundMessage) -> Delivered: ...
