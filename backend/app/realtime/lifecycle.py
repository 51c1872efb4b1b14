"""Connect, disconnect, token refresh and the per-process maintenance loop.

Beyond connect-time authentication: every second (WS_MAINTENANCE_INTERVAL_MS) the loop
warns sockets whose access token is about to expire (``token_expiring``) and disconnects
those whose token expired without a fresh one (``update_token``), and it refreshes this
process's presence heartbeat and stats in Redis.
"""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from typing import Any

import redis
from flask import Flask, current_app, request
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room

from app.errors import AppError, Unauthorized
from app.extensions import db
from app.realtime import rooms
from app.realtime.auth_deadline import auth_deadline
from app.realtime.budgets import ConnectRefused, budgets
from app.realtime.connections import Connection, registry
from app.realtime.emit import event_log
from app.realtime.packets import ThrottledLog
from app.realtime.presence import Presence, ended_sessions, new_process_id
from app.realtime.rate_limit import EventLimiter, FloodDetector
from app.redis_client import get_redis_client
from app.services import tokens
from app.services.auth_service import authenticate, renew_for_session

log = logging.getLogger(__name__)
PROCESS_ID = new_process_id()
redis_trouble = ThrottledLog(log, limit=5, window=60.0)
SWEEP_GRACE_SECONDS = 2.0


def presence() -> Presence:
    app = current_app
    existing = app.extensions.get("zt_presence")
    if existing is None:
        existing = Presence(
            get_redis_client(), PROCESS_ID, app.config["WS_PRESENCE_HEARTBEAT_SECONDS"]
        )
        app.extensions["zt_presence"] = existing
    return existing


def _token_from(auth: Any) -> str:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return auth["token"]
    raise Unauthorized("no access token in the connect auth")


def open_connection(sid: str, auth: Any) -> None:
    """Authenticate a connecting socket or refuse it with ``unauthorized``."""
    cfg = current_app.config
    try:
        token = _token_from(auth)
        principal = authenticate(token)
        claims = tokens.decode_token(token, tokens.ACCESS)
        user_id, session_id = principal.user.id, principal.session.id
        is_admin = principal.user.is_admin
    except AppError as exc:
        registry.counters["refused_connections"] += 1
        raise ConnectionRefusedError("unauthorized") from exc
    finally:
        # Hand the pooled database connection back now, not after the Redis round trips
        # below: held across them, a burst of connects exhausted the pool and connects
        # failed with QueuePool timeouts (bench/ws_load.py).
        db.session.remove()
    address = client_address()
    _admit(sid, user_id, address, session_id)
    conn = Connection(
        sid=sid,
        user_id=user_id,
        session_id=session_id,
        address=address,
        is_admin=is_admin,
        token_expires_at=claims.expires_at.timestamp(),
        limiter=EventLimiter(cfg["WS_RATE_LIMITS"]),
        flood=FloodDetector(cfg["WS_FLOOD_MAX_REJECTIONS"], cfg["WS_FLOOD_WINDOW_SECONDS"]),
    )
    registry.add(conn)
    session_room = rooms.session_room(conn.session_id)
    join_room(session_room)
    conn.rooms.add(session_room)
    try:
        presence().connected(sid, conn.user_id, conn.session_id)
        # A logout that ran while this socket authenticated found no socket to disconnect
        # (or one still connecting, where a disconnect does not take): its mark decides.
        ended = bool(ended_sessions(get_redis_client(), [conn.session_id]))
    except Exception:
        ended = False  # the database is asked again on every privileged event
        registry.counters["errors"] += 1
        log.exception("presence update failed for %s", sid)
    if ended:
        close_connection(sid)
        registry.counters["refused_connections"] += 1
        raise ConnectionRefusedError("unauthorized")
    emit(
        "connection_response",
        {
            "sid": sid,
            "user_id": conn.user_id,
            "session_id": str(conn.session_id),
            "server_time": time.time() * 1000,
            "token_expires_at": conn.token_expires_at,
            # The session room is joined here, not by a join event: its recovery baseline.
            "session_room": session_room,
            "session_offset": _current_offset(session_room),
        },
    )


def client_address() -> str:
    """The connecting client's address (the handshake's peer), or "unknown"."""
    try:
        return str(ipaddress.ip_address(request.remote_addr or ""))
    except ValueError:
        return "unknown"


def _admit(sid: str, user_id: int, address: str, session_id: uuid.UUID) -> None:
    """Within the connect budgets and connection caps, or refused (also while Redis, which
    keeps them, cannot be reached: a limit that cannot be kept refuses)."""
    try:
        budgets().admit(sid, user_id, address, session_id)
    except ConnectRefused as refused:
        registry.counters["refused_connections"] += 1
        raise ConnectionRefusedError(refused.reason) from None
    except redis.RedisError as exc:
        registry.counters["refused_connections"] += 1
        registry.counters["errors"] += 1
        redis_trouble.warning("connect refused, Redis unavailable: %s", exc)
        raise ConnectionRefusedError("service_unavailable") from None


def _current_offset(room: str) -> int | None:
    try:
        return event_log().current_offset(room)
    except Exception:
        registry.counters["errors"] += 1
        log.exception("recovery log unavailable for %s", room)
        return None


def close_connection(sid: str) -> None:
    conn = registry.remove(sid)
    if conn is None:
        return
    try:
        presence().disconnected(sid, conn.user_id, conn.session_id)
    except Exception:
        registry.counters["errors"] += 1
        log.exception("presence update failed for %s", sid)


def renew_token(conn: Connection, token: str) -> float:
    """Extend the socket with a fresh access token of its own login session; returns the
    new expiry."""
    expires_at = renew_for_session(token, conn.user_id, conn.session_id)
    conn.token_expires_at = expires_at.timestamp()
    conn.warned_expiry = False
    return conn.token_expires_at


def local_stats() -> dict[str, Any]:
    return {
        "process_id": PROCESS_ID,
        "total_connections": registry.count(),
        "unique_users": registry.unique_users(),
        "connections_per_room_type": registry.room_type_counts(),
        "events_received": dict(registry.events_received),
        "events_received_total": sum(registry.events_received.values()),
        "messages_emitted": registry.counters["messages_emitted"],
        "rate_limited": registry.counters["rate_limited"],
        "errors": registry.counters["errors"],
        "flood_disconnects": registry.counters["flood_disconnects"],
        "refused_connections": registry.counters["refused_connections"],
        "unauthenticated_transports": auth_deadline.pending(),
        "auth_timeouts": auth_deadline.closed,
        "uptime_seconds": round(time.time() - registry.started_at, 1),
    }


def maintenance_tick(socketio: SocketIO, now: float | None = None) -> None:
    """Warn and expire sockets by token lifetime. Runs in the web process's loop."""
    cfg = current_app.config
    now = time.time() if now is None else now
    for conn in registry.all():
        left = conn.token_expires_at - now
        if left <= -cfg["WS_TOKEN_GRACE_SECONDS"]:
            socketio.emit(
                "error",
                {"event": "connect", "code": "token_expired", "message": "access token expired"},
                to=conn.sid,
            )
            socketio.server.disconnect(conn.sid)
        elif left <= cfg["WS_TOKEN_WARNING_SECONDS"] and not conn.warned_expiry:
            conn.warned_expiry = True
            socketio.emit(
                "token_expiring",
                {"expires_at": conn.token_expires_at, "seconds_left": max(0.0, left)},
                to=conn.sid,
            )
    try:
        _drop_ended_sessions(socketio, now)
    except redis.RedisError as exc:
        # Token expiry above needs no Redis and has run; the sweep resumes with Redis.
        redis_trouble.warning("ended-session sweep skipped, Redis unavailable: %s", exc)


def _drop_ended_sessions(socketio: SocketIO, now: float) -> None:
    """Disconnect local sockets whose login session was marked ended more than
    SWEEP_GRACE_SECONDS ago (one that connected while its session ended, and sends
    nothing, would otherwise linger in its rooms). The grace leaves the ending's own
    `session_terminated` and disconnect, which travel the message queue, to come first."""
    conns = registry.all()
    ended = ended_sessions(get_redis_client(), list({conn.session_id for conn in conns}))
    for conn in conns:
        marked_at = ended.get(conn.session_id)
        if marked_at is not None and now - marked_at >= SWEEP_GRACE_SECONDS:
            socketio.emit(
                "error",
                {"event": "connect", "code": "unauthorized", "message": "this session has ended"},
                to=conn.sid,
            )
            socketio.server.disconnect(conn.sid)


def start_maintenance(app: Flask, socketio: SocketIO) -> None:
    """Start this web process's maintenance loop (token expiry, presence heartbeat)."""
    interval = app.config["WS_MAINTENANCE_INTERVAL_MS"] / 1000
    heartbeat_every = app.config["WS_PRESENCE_HEARTBEAT_SECONDS"]

    def loop() -> None:
        last_heartbeat = 0.0
        while True:
            try:
                with app.app_context():
                    maintenance_tick(socketio)
                    if time.monotonic() - last_heartbeat >= heartbeat_every:
                        presence().heartbeat(local_stats())
                        last_heartbeat = time.monotonic()
            except Exception:
                log.exception("realtime maintenance failed; retrying")
            socketio.sleep(interval)

    socketio.start_background_task(loop)
