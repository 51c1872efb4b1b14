"""Connection tracking and presence across web processes, in Redis.

Each process has an id and a heartbeat. Its sockets are kept in a hash that expires
unless the heartbeat refreshes it, so a crashed process's entries disappear on their own.
Per login session and per user, a set of socket ids lets any process (or a worker)
disconnect every socket of a terminated session or of a user whose rights changed, and
counts a user's or a session's connections across processes.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from typing import Any

import redis

PROCESSES = "zt:ws:procs"
SESSION_SOCKETS_TTL = 86400


def conns_key(process_id: str) -> str:
    return f"zt:ws:proc:{process_id}:conns"


def _stats_key(process_id: str) -> str:
    return f"zt:ws:proc:{process_id}:stats"


def session_key(session_id: uuid.UUID | str) -> str:
    return f"zt:ws:sess:{session_id}"


def ended_key(session_id: uuid.UUID | str) -> str:
    return f"zt:ws:ended:{session_id}"


def user_key(user_id: int) -> str:
    return f"zt:ws:user:{user_id}"


def new_process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Presence:
    def __init__(self, client: redis.Redis, process_id: str, heartbeat_seconds: int) -> None:
        self._client = client
        self.process_id = process_id
        self._ttl = heartbeat_seconds * 3

    def connected(self, sid: str, user_id: int, session_id: uuid.UUID) -> None:
        pipe = self._client.pipeline(transaction=False)
        pipe.hset(conns_key(self.process_id), sid, f"{user_id}|{session_id}")
        pipe.expire(conns_key(self.process_id), self._ttl)
        pipe.sadd(session_key(session_id), sid)
        pipe.expire(session_key(session_id), SESSION_SOCKETS_TTL)
        pipe.sadd(user_key(user_id), sid)
        pipe.expire(user_key(user_id), SESSION_SOCKETS_TTL)
        pipe.zadd(PROCESSES, {self.process_id: time.time()})
        pipe.execute()

    def disconnected(self, sid: str, user_id: int, session_id: uuid.UUID) -> None:
        pipe = self._client.pipeline(transaction=False)
        pipe.hdel(conns_key(self.process_id), sid)
        pipe.srem(session_key(session_id), sid)
        pipe.srem(user_key(user_id), sid)
        pipe.execute()

    def heartbeat(self, stats: dict[str, Any]) -> None:
        now = time.time()
        pipe = self._client.pipeline(transaction=False)
        pipe.zadd(PROCESSES, {self.process_id: now})
        pipe.zremrangebyscore(PROCESSES, "-inf", now - self._ttl)
        pipe.expire(conns_key(self.process_id), self._ttl)
        pipe.set(_stats_key(self.process_id), json.dumps(stats), ex=self._ttl)
        pipe.execute()

    def cluster(self) -> dict[str, Any]:
        """Connections and users of every live process, and their summed counters."""
        live = [
            p.decode()
            for p in self._client.zrangebyscore(PROCESSES, time.time() - self._ttl, "+inf")
        ]
        users: set[str] = set()
        connections = 0
        per_process = {}
        totals: dict[str, int] = {}
        for process_id in live:
            values = self._client.hvals(conns_key(process_id))
            connections += len(values)
            users.update(v.decode().split("|", 1)[0] for v in values)
            raw = self._client.get(_stats_key(process_id))
            stats = json.loads(raw) if raw else {}
            per_process[process_id] = {"total_connections": len(values), **stats}
            for key in ("messages_emitted", "rate_limited", "errors", "events_received_total"):
                totals[key] = totals.get(key, 0) + int(stats.get(key, 0))
        return {
            "processes": len(live),
            "total_connections": connections,
            "unique_users": len(users),
            **totals,
            "per_process": per_process,
        }


def session_socket_ids(client: redis.Redis, session_id: uuid.UUID | str) -> list[str]:
    """Socket ids of a login session in any process (usable from a worker)."""
    return [sid.decode() for sid in client.smembers(session_key(session_id))]


def user_socket_ids(client: redis.Redis, user_id: int) -> list[str]:
    """Socket ids of a user in any process (usable from a worker)."""
    return [sid.decode() for sid in client.smembers(user_key(user_id))]


def mark_session_ended(client: redis.Redis, session_id: uuid.UUID | str, ttl: int) -> None:
    """Remember for ``ttl`` seconds that a login session ended, and when: a socket of it
    that was still connecting when its sockets were disconnected is refused on its next
    event, and swept."""
    client.set(ended_key(session_id), repr(time.time()), ex=ttl)


def ended_sessions(client: redis.Redis, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, float]:
    """Those of ``session_ids`` marked ended, with when (epoch seconds)."""
    if not session_ids:
        return {}
    marks = client.mget([ended_key(session_id) for session_id in session_ids])
    return {
        session_id: float(mark)
        for session_id, mark in zip(session_ids, marks, strict=True)
        if mark is not None
    }
