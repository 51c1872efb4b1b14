"""The one emitter interface services use to reach browsers, from any process.

In the web process it emits through the Socket.IO server; in a Celery worker (or any
process without the server) through a write-only client of the Redis message queue, so
a task's emit reaches clients connected to any web process. Events to user, session and
admin rooms are first appended to the recovery log and carry ``_meta: {room, offset}``.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from typing import Any

from flask import current_app
from flask_socketio import SocketIO

from app.realtime import rooms
from app.realtime.connections import registry
from app.realtime.presence import mark_session_ended, session_socket_ids, user_socket_ids
from app.realtime.recovery import EventLog
from app.redis_client import get_redis_client

log = logging.getLogger(__name__)
_lock = threading.Lock()
_write_only: dict[tuple[int, str, str], SocketIO] = {}


def _socketio() -> SocketIO | None:
    from app.extensions import socketio

    app = current_app
    if app.config.get("REALTIME_SERVER") and socketio.server is not None:
        return socketio
    url = app.config["SOCKETIO_MESSAGE_QUEUE"]
    if not url:
        log.warning("no Socket.IO server or message queue in this process; emit dropped")
        return None
    channel = app.config["SOCKETIO_CHANNEL"]
    key = (os.getpid(), url, channel)
    with _lock:
        if key not in _write_only:
            _write_only[key] = SocketIO(message_queue=url, channel=channel)
        return _write_only[key]


def event_log() -> EventLog:
    app = current_app
    existing = app.extensions.get("zt_event_log")
    if existing is None:
        existing = EventLog(
            get_redis_client(),
            app.config["WS_RECOVERY_MAX_EVENTS"],
            app.config["WS_RECOVERY_WINDOW_SECONDS"],
        )
        app.extensions["zt_event_log"] = existing
    return existing


def ended_mark_seconds() -> int:
    """How long an ended session's mark is kept: past it, any socket of the session has
    an expired access token (it cannot get a fresh one) and is disconnected for that."""
    cfg = current_app.config
    return int(cfg["JWT_ACCESS_TOKEN_SECONDS"] + cfg["WS_TOKEN_GRACE_SECONDS"] + 60)


def emit_to_room(room: str, event: str, data: dict[str, Any]) -> int | None:
    """Emit ``event`` to ``room``; returns the recovery offset for logged rooms."""
    payload = dict(data)
    offset = None
    if rooms.is_recoverable(room):
        try:
            offset = event_log().append(room, event, data)
            payload["_meta"] = {"room": room, "offset": offset}
        except Exception:
            # Live delivery matters more than recoverability; the gap shows on recovery.
            registry.counters["errors"] += 1
            log.exception("could not log %s to %s for recovery", event, room)
    server = _socketio()
    if server is not None:
        server.emit(event, payload, to=room)
        registry.counters["messages_emitted"] += 1
    return offset


def emit_to_user(user_id: int, event: str, data: dict[str, Any]) -> int | None:
    return emit_to_room(rooms.user_room(user_id), event, data)


def emit_to_session(session_id: uuid.UUID | str, event: str, data: dict[str, Any]) -> int | None:
    return emit_to_room(rooms.session_room(session_id), event, data)


def emit_to_admins(event: str, data: dict[str, Any]) -> int | None:
    return emit_to_room(rooms.ADMIN_ROOM, event, data)


def emit_risk_update(session_id: uuid.UUID | str, data: dict[str, Any]) -> None:
    emit_to_room(rooms.risk_room(session_id), "risk_score_update", data)


def emit_topology_update(user_id: int, delta: dict[str, Any]) -> None:
    """``network_topology_update`` to the admins' graph and to the user's own sub-graph."""
    emit_to_room(rooms.TOPOLOGY_ADMIN_ROOM, "network_topology_update", delta)
    emit_to_room(rooms.topology_user_room(user_id), "network_topology_update", delta)


def broadcast(event: str, data: dict[str, Any]) -> None:
    server = _socketio()
    if server is not None:
        server.emit(event, data)
        registry.counters["messages_emitted"] += 1


def disconnect_session(session_id: uuid.UUID | str, reason: str) -> None:
    """Tell every socket of a login session it ended, then disconnect it in any process.

    The session is first marked ended in Redis: a socket still connecting now (not yet in
    presence, or not yet connected where a disconnect would take) is refused by that mark
    at its connect's end, on any event, and by the maintenance sweep."""
    try:
        mark_session_ended(get_redis_client(), session_id, ended_mark_seconds())
    except Exception:
        registry.counters["errors"] += 1
        log.exception("could not mark session %s ended", session_id)
    emit_to_session(
        session_id, "session_terminated", {"session_id": str(session_id), "reason": reason}
    )
    server = _socketio()
    if server is None:
        return
    sids = {conn.sid for conn in registry.of_session(uuid.UUID(str(session_id)))}
    try:
        sids.update(session_socket_ids(get_redis_client(), session_id))
    except Exception:
        registry.counters["errors"] += 1
        log.exception("presence unavailable; only this process's sockets are disconnected")
    for sid in sids:
        server.server.disconnect(sid)


def disconnect_user(user_id: int, reason: str) -> None:
    """Disconnect every socket of a user in any process, each told first with ``error``
    {code: ``reason``}: after a role change or a disable, rights a socket gained (rooms,
    subscriptions) must not outlive it; a reconnect is authorised as the user is now."""
    server = _socketio()
    if server is None:
        return
    local = {conn.sid for conn in registry.of_user(user_id)}
    try:
        remote = set(user_socket_ids(get_redis_client(), user_id)) - local
    except Exception:
        remote = set()
        registry.counters["errors"] += 1
        log.exception("presence unavailable; only this process's sockets are disconnected")
    notice = {"event": "connect", "code": reason, "message": "your role or account changed"}
    for sid in local:
        # A local disconnect is immediate: the notice must not take the queue's detour.
        server.emit("error", notice, to=sid, ignore_queue=True)
        server.server.disconnect(sid)
    for sid in remote:
        server.emit("error", notice, to=sid)  # the queue keeps it before the disconnect
        server.server.disconnect(sid)
