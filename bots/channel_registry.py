"""Building the registered channels (`channels.registry`) whose settings are present.

A channel's settings are its package's `ChannelSettings`: read from the environment, with any
value given to `Settings` (a field, or an extra passed by a caller) taking precedence, so one
`Settings` object still describes a whole process.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.base import Channel
from channels.registry import CHANNELS, Registry
from channels.spec import ChannelContext, ChannelSettings, ChannelSpec
from core.botdef import BotDefinition
from core.ports import RateLimiter
from infra.db.delivery_status import SqlDeliveryStatus
from infra.db.optouts import SqlOptOuts
from infra.ratelimit import MemoryRateLimiter, RedisRateLimiter
from infra.redis_pool import connections_for
from infra.settings import Settings

Sessions = async_sessionmaker[AsyncSession]


def build_limiter(settings: Settings) -> RateLimiter:
    """Send budgets shared by every worker (Redis), or per process when there is no Redis."""
    if not settings.redis_url:
        return MemoryRateLimiter()
    return RedisRateLimiter(settings.redis_url, prefix=settings.redis_key_prefix + "csbot:rl:",
                            connections=connections_for(settings.llm_max_concurrency))


def channel_settings(spec: ChannelSpec, settings: Settings) -> ChannelSettings:
    """The spec's settings, taking what `settings` holds for them over the environment."""
    given = {**(settings.model_extra or {}), **settings.model_dump()}
    values = {name: given[name] for name in spec.settings.model_fields if given.get(name) is not None}
    return spec.settings(**values)


def enabled_specs(settings: Settings, registry: Registry = CHANNELS) -> list[tuple[ChannelSpec, ChannelSettings]]:
    """The specs whose settings turn them on; a half-set channel is a `ConfigError` naming the
    missing variable (the start-up check)."""
    on = []
    for spec in registry:
        values = channel_settings(spec, settings)
        if values.enabled():
            on.append((spec, values))
    return on


def build_channels(
    settings: Settings, *, sessions: Sessions, bot: BotDefinition, limiter: RateLimiter | None = None,
    registry: Registry = CHANNELS,
) -> list[Channel]:
    """Every registered channel whose credentials are set. Off channels answer 404 on their routes."""
    context = ChannelContext(
        limiter=limiter or build_limiter(settings), bot=bot, optouts=SqlOptOuts(sessions),
        delivery_status=SqlDeliveryStatus(sessions),
    )
    return [spec.build(values, context) for spec, values in enabled_specs(settings, registry)]
