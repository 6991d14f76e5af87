"""Paging the on-call agent through a customer channel's sender (SMS through Twilio).

A page is sent directly, not through the outbox: it belongs to no conversation, and the SLA
check that sends it claims it first (`paged_at`), so it goes once; a failure is raised for the
check to unclaim and try again on its next run.
"""

from __future__ import annotations

import itertools
import time

from core.messages import OutboundMessage
from core.ports import ChannelSender

_ids = itertools.count(1)


class ChannelPager:
    """A `Pager` that texts `address` through `sender`."""

    def __init__(self, sender: ChannelSender, address: str) -> None:
        self._sender = sender
        self._address = address

    async def page(self, text: str) -> None:
        serial = next(_ids)
        await self._sender.send(
            OutboundMessage(
                id=0,
                channel=self._sender.name,
                conversation_key=self._address,
                text=text,
                idempotency_key=f"page:{time.time_ns()}:{serial}",
            )
        )
