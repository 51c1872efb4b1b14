"""The cache's view of one Redis client: calls that never raise Redis errors, outage state,
per-type counters and the Lua scripts the cache runs.

While Redis is unreachable every call reports failure at once (the cache turns that into a
miss or a dropped write) instead of waiting on a dead server; one caller per
CACHE_OUTAGE_RETRY interval tries Redis again, and the first success ends the outage. An
outage is logged once when it starts and once when it ends, never per call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
T = TypeVar("T")

COUNTER_FIELDS = ("hits", "misses", "writes", "dropped_writes")
OTHER_ERROR_LOG_INTERVAL = 60.0

# KEYS[1] the user's index (a sorted set: member key -> its expiry time), KEYS[2..] the
# value keys; ARGV: now, index ttl, value ttl, then one value per value key.
INDEXED_SET = """
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[3])
for i = 2, #KEYS do
  redis.call('set', KEYS[i], ARGV[i + 2], 'EX', ttl)
  redis.call('zadd', KEYS[1], now + ttl, KEYS[i])
end
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
redis.call('expire', KEYS[1], ARGV[2])
return #KEYS - 1
"""

# KEYS[1] the user's index, KEYS[2] their behavioural model key. Atomic, so a value written
# for the user while this runs cannot be left behind without its index entry.
INVALIDATE_USER = """
local unpack = table.unpack or unpack
local members = redis.call('zrange', KEYS[1], 0, -1)
local removed = 0
for i = 1, #members, 500 do
  removed = removed + redis.call('unlink', unpack(members, i, math.min(i + 499, #members)))
end
removed = removed + redis.call('unlink', KEYS[2])
redis.call('unlink', KEYS[1])
return removed
"""

# KEYS[1] a user's index; ARGV[1] now. Drops entries that expired or whose key is gone,
# atomically, so a value written meanwhile keeps its entry.
PRUNE_INDEX = """
local removed = redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
for _, member in ipairs(redis.call('zrange', KEYS[1], 0, -1)) do
  if redis.call('exists', member) == 0 then
    removed = removed + redis.call('zrem', KEYS[1], member)
  end
end
return removed
"""

RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class CacheCounters:
    """This process's hits, misses, writes and dropped writes per cache type."""

    def __init__(self, types: Iterable[str]) -> None:
        self._types = tuple(types)
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._counts = {t: dict.fromkeys(COUNTER_FIELDS, 0) for t in self._types}

    def add(self, cache_type: str, field: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[cache_type][field] += amount

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {t: dict(counts) for t, counts in self._counts.items()}


def _describe(client: redis.Redis) -> str:
    """Where the client points, without credentials."""
    kwargs = client.connection_pool.connection_kwargs
    where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
    return f"{where}/{kwargs.get('db', 0)}"


class RedisBackend:
    def __init__(self, client: redis.Redis, retry_interval: float, types: Iterable[str]) -> None:
        self.client = client
        self.retry_interval = retry_interval
        self.counters = CacheCounters(types)
        self.errors = 0
        self.outages = 0
        self.down_since: float | None = None
        self._retry_at = 0.0
        self._other_error_logged_at = -OTHER_ERROR_LOG_INTERVAL
        self._lock = threading.Lock()
        self.where = _describe(client)
        self.indexed_set = client.register_script(INDEXED_SET)
        self.invalidate_user = client.register_script(INVALIDATE_USER)
        self.prune_index = client.register_script(PRUNE_INDEX)
        self.release_lock = client.register_script(RELEASE_LOCK)

    def call(self, operation: Callable[[redis.Redis], T]) -> tuple[bool, T | None]:
        """``(True, result)``, or ``(False, None)`` when Redis failed or is known to be down."""
        if self.down_since is not None and not self._retry_due():
            return False, None
        try:
            result = operation(self.client)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self._outage(exc)
            return False, None
        except RedisError as exc:
            self._other_error(exc)
            return False, None
        if self.down_since is not None:
            self._recovered()
        return True, result

    def _retry_due(self) -> bool:
        """True for one caller per retry interval during an outage."""
        now = time.monotonic()
        with self._lock:
            if now < self._retry_at:
                return False
            self._retry_at = now + self.retry_interval
            return True

    def _outage(self, exc: Exception) -> None:
        with self._lock:
            self.errors += 1
            self._retry_at = time.monotonic() + self.retry_interval
            starting = self.down_since is None
            if starting:
                self.down_since = time.time()
                self.outages += 1
        if starting:
            log.warning(
                "Redis cache unavailable at %s (%s: %s); serving misses and dropping writes, "
                "retrying every %gs",
                self.where,
                type(exc).__name__,
                exc,
                self.retry_interval,
            )

    def _recovered(self) -> None:
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            log.info(
                "Redis cache reachable again at %s after %.1fs", self.where, time.time() - since
            )

    def _other_error(self, exc: RedisError) -> None:
        """A failing command on a reachable Redis (out of memory, read-only replica...)."""
        now = time.monotonic()
        with self._lock:
            self.errors += 1
            due = now - self._other_error_logged_at >= OTHER_ERROR_LOG_INTERVAL
            if due:
                self._other_error_logged_at = now
        if due:
            log.warning(
                "Redis cache command failed at %s (%s: %s); treated as a miss",
                self.where,
                type(exc).__name__,
                exc,
            )

    def error(self, message: str, *args: Any) -> None:
        """Count and log a problem the cache found in data read back from Redis."""
        with self._lock:
            self.errors += 1
        log.warning(message, *args)
