"""Delivery receipts: what the platform later reports about a message we already handed over.

A send returning an id means "accepted", not "delivered"; SMS carriers report the outcome
minutes later through a status callback. This port lets a channel write that outcome onto the
outbox row the id belongs to, so a failed delivery is visible instead of looking sent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class ReceiptOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


class DeliveryStatus(Protocol):
    async def record(self, channel: str, platform_message_id: str, outcome: ReceiptOutcome, *, error: str = "") -> bool:
        """Mark the sent outbox row with this platform id delivered or failed (`error` says why).

        Returns False when no sent row matches (unknown id, or a receipt that arrived before the
        send was recorded); receipts never move a failed row back to delivered.
        """
