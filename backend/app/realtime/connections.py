"""The sockets of this process: who is behind each sid and its per-connection state."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from app.realtime.rate_limit import EventLimiter, FloodDetector


@dataclass
class Connection:
    sid: str
    user_id: int
    session_id: uuid.UUID
    address: str
    is_admin: bool
    token_expires_at: float  # epoch seconds
    limiter: EventLimiter
    flood: FloodDetector
    connected_at: float = field(default_factory=time.time)
    rooms: set[str] = field(default_factory=set)
    warned_expiry: bool = False
    in_flight: int = 0  # events of this socket being handled now
    flooded: bool = False  # to be disconnected once they are


class ConnectionRegistry:
    """Thread/greenlet-safe map sid → Connection, with counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_sid: dict[str, Connection] = {}
        self._user_refs: Counter[int] = Counter()
        self.events_received: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        self.started_at = time.time()

    def add(self, conn: Connection) -> None:
        with self._lock:
            self._by_sid[conn.sid] = conn
            self._user_refs[conn.user_id] += 1

    def remove(self, sid: str) -> Connection | None:
        with self._lock:
            conn = self._by_sid.pop(sid, None)
            if conn is not None:
                self._user_refs[conn.user_id] -= 1
                if self._user_refs[conn.user_id] <= 0:
                    del self._user_refs[conn.user_id]
            return conn

    def get(self, sid: str) -> Connection | None:
        return self._by_sid.get(sid)

    def all(self) -> list[Connection]:
        with self._lock:
            return list(self._by_sid.values())

    def of_session(self, session_id: uuid.UUID) -> list[Connection]:
        return [c for c in self.all() if c.session_id == session_id]

    def of_user(self, user_id: int) -> list[Connection]:
        return [c for c in self.all() if c.user_id == user_id]

    def count(self) -> int:
        return len(self._by_sid)

    def unique_users(self) -> int:
        return len(self._user_refs)

    def room_type_counts(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for conn in self.all():
            for room in conn.rooms:
                counts[room.split(":", 1)[0]] += 1
        return dict(counts)


registry = ConnectionRegistry()
