"""Connection tracking and presence across web processes, in Redis.

Each process has an id and a heartbeat. Its sockets are kept in a hash that expires
unless the heartbeat refreshes it, so a crashed process's entries disappear on their own.
Per login session, a set of socket ids lets any process (or a worker) disconnect every
socket of a terminated session.
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


def _conns_key(process_id: str) -> str:
    return f"zt:ws:proc:{process_id}:conns"


def _stats_key(process_id: str) -> str:
    return f"zt:ws:proc:{process_id}:stats"


def _session_key(session_id: uuid.UUID | str) -> str:
    return f"zt:ws:sess:{session_id}"


def new_process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Presence:
    def __init__(self, client: redis.Redis, process_id: str, heartbeat_seconds: int) -> None:
        self._client = client
        self.process_id = process_id
        self._ttl = heartbeat_seconds * 3

    def connected(self, sid: str, user_id: int, session_id: uuid.UUID) -> None:
        pipe = self._client.pipeline(transaction=False)
        pipe.hset(_conns_key(self.process_id), sid, f"{user_id}|{session_id}")
        pipe.expire(_conns_key(self.process_id), self._ttl)
        pipe.sadd(_session_key(session_id), sid)
        pipe.expire(_session_key(session_id), SESSION_SOCKETS_TTL)
        pipe.zadd(PROCESSES, {self.process_id: time.time()})
        pipe.execute()

    def disconnected(self, sid: str, session_id: uuid.UUID) -> None:
        pipe = self._client.pipeline(transaction=False)
        pipe.hdel(_conns_key(self.process_id), sid)
        pipe.srem(_session_key(session_id), sid)
        pipe.execute()

    def heartbeat(self, stats: dict[str, Any]) -> None:
        now = time.time()
        pipe = self._client.pipeline(transaction=False)
        pipe.zadd(PROCESSES, {self.process_id: now})
        pipe.zremrangebyscore(PROCESSES, "-inf", now - self._ttl)
        pipe.expire(_conns_key(self.process_id), self._ttl)
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
            values = self._client.hvals(_conns_key(process_id))
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
    return [sid.decode() for sid in client.smembers(_session_key(session_id))]
