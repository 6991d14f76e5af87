"""The two jobs, as plain coroutines over `Services`: the one code path for Celery and in-process."""

from __future__ import annotations

from core.services import Services


async def process_inbound(services: Services, message_id: int) -> int:
    return await services.turns.process(message_id)


async def deliver(services: Services, outbound_id: int) -> int:
    return await services.delivery.deliver(outbound_id)
