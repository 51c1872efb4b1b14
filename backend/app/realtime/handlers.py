"""Socket.IO event handlers (ARCHITECTURE section 4): thin — validate, one service call, emit.

Every event passes the same gate: a known connection, the rate limits, the payload schema.
Who may do what is decided by the services (``socket_access`` for rooms and subscriptions);
a socket whose login session has ended is refused and disconnected. A refused event gets
``error`` {event, code, message} (and the same as its ack) and changes nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial, wraps
from typing import Any

import redis
from flask import current_app, request
from flask_socketio import Namespace, SocketIO, disconnect, emit, join_room
from pydantic import BaseModel, ValidationError

from app.errors import AppError, Forbidden
from app.realtime import rooms
from app.realtime.budgets import ENDED, budgets
from app.realtime.connections import Connection, registry
from app.realtime.emit import event_log
from app.realtime.lifecycle import close_connection, open_connection, redis_trouble, renew_token
from app.schemas import events as schemas
from app.services import behavior_ingest, socket_access
from app.services.socket_access import SessionEnded

log = logging.getLogger(__name__)
Handler = Callable[[Connection, Any], dict[str, Any] | None]


def _refuse(event: str, code: str, message: str) -> dict[str, Any]:
    registry.counters["errors" if code != "rate_limited" else "rate_limited"] += 1
    error = {"event": event, "code": code, "message": message}
    emit("error", error)
    return {"ok": False, "error": error}


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def gated(event: str, schema: type[BaseModel]) -> Callable[[Handler], Callable[..., Any]]:
    def decorator(handler: Handler) -> Callable[..., Any]:
        @wraps(handler)
        def wrapper(payload: Any = None, *extra: Any) -> dict[str, Any] | None:
            registry.events_received[event] += 1
            conn = registry.get(request.sid)  # type: ignore[attr-defined]
            if conn is None:
                return _refuse(event, "unauthorized", "not authenticated")
            with _in_flight(conn):
                return _gate(conn, event, schema, handler, payload, extra)

        return wrapper

    return decorator


def _gate(
    conn: Connection,
    event: str,
    schema: type[BaseModel],
    handler: Handler,
    payload: Any,
    extra: tuple[Any, ...],
) -> dict[str, Any]:
    verdict = _within_limits(conn, event)
    if verdict == ENDED:
        refusal = _refuse(event, "unauthorized", "this session has ended")
        disconnect()
        return refusal
    if not verdict:
        return _refuse_over_limit(conn, event)
    if extra:
        return _refuse(event, "invalid_payload", "send exactly one payload object")
    try:
        data = schema.model_validate({} if payload is None else payload)
    except ValidationError as exc:
        return _refuse(event, "invalid_payload", _validation_message(exc))
    try:
        return handler(conn, data) or {"ok": True}
    except AppError as exc:
        refusal = _refuse(event, exc.code if exc.status != 400 else "invalid_payload", exc.message)
        if isinstance(exc, SessionEnded):
            disconnect()
        return refusal


def _within_limits(conn: Connection, event: str) -> bool | int:
    """True within the connection's, the user's and the address's budgets; ENDED once the
    socket's login session was marked ended. One Redis call; while Redis cannot be reached
    only the connection's own budget counts."""
    if not conn.limiter.allow(event):
        return False
    try:
        verdict = budgets().take_event(conn.user_id, conn.address, conn.session_id, event)
    except redis.RedisError as exc:
        registry.counters["errors"] += 1
        redis_trouble.warning("event budgets unavailable, Redis: %s", exc)
        return True
    return ENDED if verdict == ENDED else verdict == 1


@contextmanager
def _in_flight(conn: Connection) -> Iterator[None]:
    """Count the connection's events being handled; a flooding connection is disconnected
    by the last of them, so events accepted before the flood (still waiting on Redis or
    the database) are answered first."""
    conn.in_flight += 1
    try:
        yield
    finally:
        conn.in_flight -= 1
        if conn.flooded and conn.in_flight == 0:
            disconnect()


def _refuse_over_limit(conn: Connection, event: str) -> dict[str, Any]:
    """Refuse an event over the limits; a client that keeps flooding is disconnected, after
    its last refusal is sent."""
    refusal = _refuse(event, "rate_limited", "too many events; slow down")
    if conn.flood.record() and not conn.flooded:
        log.warning("disconnecting flooding socket %s of user %s", conn.sid, conn.user_id)
        registry.counters["flood_disconnects"] += 1
        conn.flooded = True
    return refusal


def _join(conn: Connection, room: str) -> dict[str, Any]:
    join_room(room)
    conn.rooms.add(room)
    offset = event_log().current_offset(room) if rooms.is_recoverable(room) else None
    reply = {"room": room, "offset": offset}
    emit("room_joined", reply)
    return {"ok": True, **reply}


class _Dispatcher(Namespace):
    """Routes every event of namespace "/" by its name; any other name gets `not_found`.

    Not a decorator catch-all (``on_event("*")``): python-socketio hands a client event
    literally named "*" to that handler with the sender's first argument where the sid
    belongs, so it would run in the context of whichever socket id the client names.
    """

    def __init__(self, handlers: dict[str, Callable[..., Any]]) -> None:
        super().__init__("/")
        self._handlers = handlers

    def trigger_event(self, event: Any, *args: Any) -> Any:
        handler = self._handlers.get(event) if isinstance(event, str) else None
        if handler is None:
            handler = partial(_unknown_event, event)
        return self.socketio._handle_event(handler, event, self.namespace, *args)


def register_handlers(socketio: SocketIO) -> None:
    @gated("join_user_room", schemas.JoinUserRoom)
    def join_user_room(conn: Connection, data: schemas.JoinUserRoom) -> dict[str, Any]:
        user_id = socket_access.user_room_access(conn.user_id, conn.session_id, data.user_id)
        return _join(conn, rooms.user_room(user_id))

    @gated("join_admin_room", schemas.Empty)
    def join_admin_room(conn: Connection, data: schemas.Empty) -> dict[str, Any]:
        socket_access.admin_room_access(conn.user_id, conn.session_id)
        return _join(conn, rooms.ADMIN_ROOM)

    @gated("subscribe_risk_score", schemas.SubscribeRiskScore)
    def subscribe_risk_score(conn: Connection, data: schemas.SubscribeRiskScore) -> dict[str, Any]:
        snapshot = socket_access.risk_subscription(
            conn.user_id, conn.session_id, data.user_id, uuid.UUID(data.session_id)
        )
        reply = _join(conn, rooms.risk_room(snapshot["session_id"]))
        emit("risk_score_update", snapshot)
        return reply

    @gated("subscribe_network_topology", schemas.Empty)
    def subscribe_network_topology(conn: Connection, data: schemas.Empty) -> dict[str, Any]:
        subscription = socket_access.topology_subscription(conn.user_id, conn.session_id)
        room = (
            rooms.TOPOLOGY_ADMIN_ROOM
            if subscription.user_id is None
            else rooms.topology_user_room(subscription.user_id)
        )
        reply = _join(conn, room)
        emit("network_topology_update", {"op": "snapshot", **subscription.snapshot})
        return reply

    @gated("behavioral_data", schemas.BehavioralData)
    def behavioral_data(conn: Connection, data: schemas.BehavioralData) -> dict[str, Any]:
        accepted = behavior_ingest.store_batch(conn.user_id, conn.session_id, data)
        return {"ok": True, "accepted": accepted}

    @gated("ping", schemas.Ping)
    def ping(conn: Connection, data: schemas.Ping) -> dict[str, Any]:
        reply = {"client_ts": data.client_ts, "server_ts": time.time() * 1000}
        emit("pong", reply)
        return {"ok": True, **reply}

    @gated("update_token", schemas.UpdateToken)
    def update_token(conn: Connection, data: schemas.UpdateToken) -> dict[str, Any]:
        expires_at = renew_token(conn, data.token)
        emit("token_updated", {"expires_at": expires_at})
        return {"ok": True, "expires_at": expires_at}

    @gated("recover", schemas.Recover)
    def recover(conn: Connection, data: schemas.Recover) -> dict[str, Any]:
        for room in data.offsets:
            if room not in conn.rooms or not rooms.is_recoverable(room):
                raise Forbidden(f"join {room!r} before recovering it")
        results = {}
        for room, last_offset in data.offsets.items():
            outcome = event_log().since(room, last_offset)
            for logged in outcome.events:
                emit(
                    logged.event, {**logged.data, "_meta": {"room": room, "offset": logged.offset}}
                )
            result = {
                "room": room,
                "recovered": outcome.recovered,
                "replayed": len(outcome.events),
                "offset": outcome.current_offset,
                "reason": outcome.reason,
            }
            emit("recovery", result)
            results[room] = result
        return {"ok": True, "rooms": results}

    socketio.on_namespace(
        _Dispatcher(
            {
                "connect": _on_connect,
                "disconnect": _on_disconnect,
                "join_user_room": join_user_room,
                "join_admin_room": join_admin_room,
                "subscribe_risk_score": subscribe_risk_score,
                "subscribe_network_topology": subscribe_network_topology,
                "behavioral_data": behavioral_data,
                "ping": ping,
                "update_token": update_token,
                "recover": recover,
            }
        )
    )


def _unknown_event(event: Any, *args: Any) -> dict[str, Any]:
    registry.events_received["unknown"] += 1
    name = str(event)[:64]
    conn = registry.get(request.sid)  # type: ignore[attr-defined]
    if conn is None:
        return _refuse(name, "not_found", "unknown event")
    with _in_flight(conn):
        if _within_limits(conn, "unknown") is not True:
            return _refuse_over_limit(conn, name)
        return _refuse(name, "not_found", "unknown event")


def _sent_as_event() -> bool:
    """Whether a client emitted "connect" or "disconnect" as an ordinary event.

    python-socketio hands such an event to the lifecycle handler, which would let a client
    re-authenticate its socket (resetting its rate limits) or drop out of the registry and
    presence while staying in its rooms (escaping token expiry and session termination).
    A real connect or disconnect runs while the socket is pending, never connected.
    """
    manager = current_app.extensions["socketio"].server.manager
    return bool(manager.is_connected(request.sid, "/"))  # type: ignore[attr-defined]


def _on_connect(auth: Any = None) -> dict[str, Any] | None:
    if _sent_as_event():
        return _unknown_event("connect")
    open_connection(request.sid, auth)  # type: ignore[attr-defined]
    return None


def _on_disconnect(*args: Any) -> dict[str, Any] | None:
    if _sent_as_event():
        return _unknown_event("disconnect")
    close_connection(request.sid)  # type: ignore[attr-defined]
    return None
