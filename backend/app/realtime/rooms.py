"""Room names (ARCHITECTURE section 4). Rooms whose events are logged for recovery."""

from __future__ import annotations

import uuid

ADMIN_ROOM = "admin"
TOPOLOGY_ADMIN_ROOM = "topology:admin"
# Events to these rooms are logged with offsets for missed-event recovery (plus ADMIN_ROOM).
RECOVERABLE_PREFIXES = ("user:", "session:")


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def session_room(session_id: uuid.UUID | str) -> str:
    return f"session:{session_id}"


def risk_room(session_id: uuid.UUID | str) -> str:
    return f"risk:{session_id}"


def topology_user_room(user_id: int) -> str:
    return f"topology:user:{user_id}"


def is_recoverable(room: str) -> bool:
    return room == ADMIN_ROOM or room.startswith(RECOVERABLE_PREFIXES)
