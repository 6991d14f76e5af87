"""What every channel adapter offers the rest of the system once it is built."""

from __future__ import annotations

from typing import Protocol

from core.capabilities import Capabilities
from core.messages import Delivered, OutboundMessage
from core.streaming import StreamView


class Channel(Protocol):
    """A platform adapter's outbound side, and what it can show (`core.capabilities.Capabilities`).

    Its inbound routes are declared by its package's `ChannelSpec`; handlers hand verified,
    parsed messages to intake (persist + enqueue) before answering 2xx.
    """

    name: str
    capabilities: Capabilities

    async def send(self, message: OutboundMessage) -> Delivered: ...


class StreamingChannel(Channel, Protocol):
    """A channel whose capabilities say `streaming`: it shows an answer while it is generated."""

    def stream_view(self) -> StreamView: ...


def stream_views(channels: dict[str, Channel]) -> dict[str, StreamView]:
    """The stream views of the channels that declare streaming, by channel name."""
    return {
        name: channel.stream_view()  # type: ignore[attr-defined]
        for name, channel in channels.items()
        if channel.capabilities.streaming and callable(getattr(channel, "stream_view", None))
    }
