"""Token buckets for Socket.IO events, per connection and per user."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float
    capacity: int
    tokens: float = -1.0
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = float(self.capacity)

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class EventLimiter:
    """One bucket per event name (falling back to the "default" limit)."""

    def __init__(self, limits: dict[str, tuple[float, int]], multiplier: int = 1) -> None:
        self._limits = limits
        self._multiplier = multiplier
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, event: str, now: float | None = None) -> bool:
        bucket = self._buckets.get(event)
        if bucket is None:
            rate, burst = self._limits.get(event, self._limits["default"])
            bucket = TokenBucket(rate * self._multiplier, burst * self._multiplier)
            self._buckets[event] = bucket
        return bucket.take(now)


class FloodDetector:
    """Counts refused events in a sliding window; True once a client keeps flooding."""

    def __init__(self, max_rejections: int, window_seconds: float) -> None:
        self._max = max_rejections
        self._window = window_seconds
        self._times: deque[float] = deque()

    def record(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self._times.append(now)
        while self._times and self._times[0] < now - self._window:
            self._times.popleft()
        return len(self._times) >= self._max
