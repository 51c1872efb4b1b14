"""Budgets of a user and of a client address shared by every web process, in Redis.

Per-connection event buckets live in the process (``rate_limit``); these outlive a
connection, so reconnecting does not refill them, and span processes:

* events: per user (the per-connection rates times WS_USER_RATE_MULTIPLIER) and per address
  (times WS_ADDRESS_RATE_MULTIPLIER), keys ``zt:ws:rl:u:<user>:<event>`` and
  ``zt:ws:rl:a:<address>:<event>``; the same call tells whether the socket's login session
  was marked ended (``zt:ws:ended:<session>``);
* connects: per user and per address (WS_CONNECT_RATE_PER_USER / _PER_ADDRESS), keys
  ``zt:ws:rl:cu:<user>`` and ``zt:ws:rl:ca:<address>``;
* open connections: at most WS_MAX_CONNECTIONS_PER_USER and _PER_SESSION, counted in the
  presence sets ``zt:ws:user:<user>`` and ``zt:ws:sess:<session>`` and reserved atomically
  (sockets of processes that died without a goodbye are pruned when a cap is reached).

Buckets are token buckets on Redis's clock, taken all-or-nothing by one Lua script.
When Redis cannot be reached, connects are refused (fail closed: no limit could be kept)
and events are let through to the per-connection buckets (fail open: a Redis outage must
not silence every live socket; who may do what is still decided in the database).
"""

from __future__ import annotations

import uuid

import redis
from flask import current_app

from app.realtime.presence import (
    PROCESSES,
    SESSION_SOCKETS_TTL,
    conns_key,
    ended_key,
    session_key,
    user_key,
)
from app.redis_client import get_redis_client

# KEYS[1] a key whose existence refuses the take (or "" for none), KEYS[2..] buckets;
# ARGV: rate, capacity per bucket. Returns -1 if KEYS[1] exists, 0 if a bucket is empty,
# else 1 (one token taken from every bucket).
_TAKE = """
if KEYS[1] ~= '' and redis.call('EXISTS', KEYS[1]) == 1 then
  return -1
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local levels = {}
for i = 2, #KEYS do
  local rate = tonumber(ARGV[2 * i - 3])
  local capacity = tonumber(ARGV[2 * i - 2])
  local bucket = redis.call('HMGET', KEYS[i], 't', 'v')
  local level = capacity
  if bucket[1] then
    level = math.min(capacity, tonumber(bucket[2]) + (now - tonumber(bucket[1])) * rate)
  end
  if level < 1 then
    return 0
  end
  levels[i] = level
end
for i = 2, #KEYS do
  local rate = tonumber(ARGV[2 * i - 3])
  local capacity = tonumber(ARGV[2 * i - 2])
  redis.call('HSET', KEYS[i], 't', string.format('%.6f', now), 'v', levels[i] - 1)
  redis.call('EXPIRE', KEYS[i], math.ceil(capacity / rate) + 1)
end
return 1
"""

# KEYS[1] the user's socket set, KEYS[2] the session's; ARGV[1] the socket id, ARGV[2] the
# user cap, ARGV[3] the session cap, ARGV[4] the sets' lifetime. 1: reserved, 0: at a cap.
_RESERVE = """
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2])
    or redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

ENDED = -1
REFUSED = 0


class ConnectRefused(Exception):
    """Why a connect is refused: its ``reason`` is the ``connect_error`` message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Budgets:
    """The Lua scripts on one Redis client; limits are read from the app's config on each
    call."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._take = client.register_script(_TAKE)
        self._reserve = client.register_script(_RESERVE)

    def take_event(self, user_id: int, address: str, session_id: uuid.UUID, event: str) -> int:
        """1 if the event is within the user's and the address's budgets, 0 if not, ENDED
        if the session was marked ended. Raises redis errors."""
        cfg = current_app.config
        limits = cfg["WS_RATE_LIMITS"]
        rate, burst = limits.get(event, limits["default"])
        per_user, per_address = cfg["WS_USER_RATE_MULTIPLIER"], cfg["WS_ADDRESS_RATE_MULTIPLIER"]
        keys = [
            ended_key(session_id),
            f"zt:ws:rl:u:{user_id}:{event}",
            f"zt:ws:rl:a:{address}:{event}",
        ]
        args = [rate * per_user, burst * per_user, rate * per_address, burst * per_address]
        return int(self._take(keys=keys, args=args))

    def admit(self, sid: str, user_id: int, address: str, session_id: uuid.UUID) -> None:
        """Take a connect from the user's and the address's budgets and reserve a place
        under the connection caps; ConnectRefused if not. Raises redis errors."""
        cfg = current_app.config
        user_rate, user_burst = cfg["WS_CONNECT_RATE_PER_USER"]
        address_rate, address_burst = cfg["WS_CONNECT_RATE_PER_ADDRESS"]
        keys = ["", f"zt:ws:rl:cu:{user_id}", f"zt:ws:rl:ca:{address}"]
        args = [user_rate, user_burst, address_rate, address_burst]
        if int(self._take(keys=keys, args=args)) != 1:
            raise ConnectRefused("rate_limited")
        caps = (cfg["WS_MAX_CONNECTIONS_PER_USER"], cfg["WS_MAX_CONNECTIONS_PER_SESSION"])
        if not self._reserve_place(sid, user_id, session_id, caps):
            self._prune_dead_sockets(user_id, session_id)
            if not self._reserve_place(sid, user_id, session_id, caps):
                raise ConnectRefused("too_many_connections")

    def _reserve_place(
        self, sid: str, user_id: int, session_id: uuid.UUID, caps: tuple[int, int]
    ) -> bool:
        keys = [user_key(user_id), session_key(session_id)]
        args = [sid, caps[0], caps[1], SESSION_SOCKETS_TTL]
        return int(self._reserve(keys=keys, args=args)) == 1

    def _prune_dead_sockets(self, user_id: int, session_id: uuid.UUID) -> None:
        """Drop socket ids no live process holds (its process died without cleaning up)."""
        live = [p.decode() for p in self._client.zrange(PROCESSES, 0, -1)]
        for key in (user_key(user_id), session_key(session_id)):
            for raw in self._client.smembers(key):
                sid = raw.decode()
                if not any(self._client.hexists(conns_key(p), sid) for p in live):
                    self._client.srem(key, sid)


def budgets() -> Budgets:
    app = current_app
    existing = app.extensions.get("zt_ws_budgets")
    if existing is None:
        existing = Budgets(get_redis_client())
        app.extensions["zt_ws_budgets"] = existing
    return existing
