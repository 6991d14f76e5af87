"""A `RateLimiter` for channel tests: always says go (or what it is told to), records the keys."""

from __future__ import annotations


class OpenLimiter:
    def __init__(self, waits: list[float] | None = None) -> None:
        self.keys: list[str] = []
        self._waits = list(waits or [])

    async def reserve(self, key: str, *, per_second: float, burst: int = 1) -> float:
        self.keys.append(key)
        return self._waits.pop(0) if self._waits else 0.0
