"""The explicit registry of channel adapters: which are on is decided by their settings."""

from __future__ import annotations

from channels.base import Channel
from core.ports import RateLimiter
from infra.settings import Settings


def build_limiter(settings: Settings) -> RateLimiter | None:
    """Send budgets shared by every worker (Redis), or per process when there is no Redis."""
    return None


def build_channels(settings: Settings, *, limiter: RateLimiter | None) -> list[Channel]:
    """Every platform channel whose credentials are set. Off channels answer 404 on their webhook."""
    return []
