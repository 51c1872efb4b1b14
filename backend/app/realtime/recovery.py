"""Missed-event recovery: a bounded, offset-numbered event log per room in Redis.

python-socketio has no connection-state recovery, so events sent to user, session and
admin rooms are appended to a Redis stream per room with a per-room offset (1, 2, 3 …).
A reconnecting client sends the last offset it saw per room and gets exactly the events
after it, in order — or ``recovered: false`` with a reason when any of them has left the
log (count or age bound), so it reloads its state over REST instead. Never a partial replay.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

SEQ_TTL_SECONDS = 7 * 86400
_APPEND = """
local n = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[1], '*', 'o', n, 'e', ARGV[3], 'd', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return n
"""


def _seq_key(room: str) -> str:
    return f"zt:ws:seq:{room}"


def _log_key(room: str) -> str:
    return f"zt:ws:log:{room}"


@dataclass(frozen=True)
class LoggedEvent:
    offset: int
    event: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Recovery:
    recovered: bool
    events: list[LoggedEvent]
    reason: str | None = None
    current_offset: int = 0


class EventLog:
    def __init__(self, client: redis.Redis, max_events: int, window_seconds: int) -> None:
        self._client = client
        self._max_events = max_events
        self._window_ms = window_seconds * 1000
        self._append = client.register_script(_APPEND)

    def append(self, room: str, event: str, data: dict[str, Any]) -> int:
        """Log an event and return its offset in the room (atomic INCR + XADD)."""
        keys = [_seq_key(room), _log_key(room)]
        args = [self._max_events, SEQ_TTL_SECONDS, event, json.dumps(data, separators=(",", ":"))]
        return int(self._append(keys=keys, args=args))

    def current_offset(self, room: str) -> int:
        value = self._client.get(_seq_key(room))
        return int(value) if value is not None else 0

    def since(self, room: str, last_offset: int, now: float | None = None) -> Recovery:
        """The events after ``last_offset`` up to the current offset, or why they cannot be.

        Events appended while this runs (past the current offset read first) are left out:
        the client, already back in the room, gets them live.
        """
        current = self.current_offset(room)
        if last_offset > current:
            return Recovery(False, [], "unknown_offset", current)
        if last_offset == current:
            return Recovery(True, [], None, current)
        oldest_ms = int((time.time() if now is None else now) * 1000) - self._window_ms
        events = []
        for entry_id, fields in self._client.xrange(_log_key(room), "-", "+"):
            offset = int(fields[b"o"])
            too_old = int(entry_id.split(b"-")[0]) < oldest_ms
            if offset <= last_offset or offset > current or too_old:
                continue
            events.append(LoggedEvent(offset, fields[b"e"].decode(), json.loads(fields[b"d"])))
        expected = list(range(last_offset + 1, current + 1))
        if [e.offset for e in events] != expected:
            return Recovery(False, [], "out_of_window", current)
        return Recovery(True, events, None, current)
