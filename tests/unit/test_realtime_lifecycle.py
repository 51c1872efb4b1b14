"""A socket's life after connect: rate limits, flood disconnect, token expiry and refresh,
and the end of its login session."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db, socketio
from app.models import UserSession
from app.realtime.connections import registry
from app.realtime.lifecycle import SWEEP_GRACE_SECONDS, maintenance_tick
from app.realtime.presence import mark_session_ended
from app.redis_client import get_redis_client
from tests.conftest import SignedIn
from tests.tokens import forge_access_token
from tests.unit.sockets import (
    Sockets,
    names,
    new_account,
    payloads,
    second_login,
    telemetry_batch,
)

PING = {"client_ts": 1.0}


@pytest.fixture
def slow_refill(app: Flask) -> None:
    """Buckets that refill too slowly to matter within a test: bursts decide alone."""
    app.config["WS_RATE_LIMITS"] = {"behavioral_data": (0.001, 3), "default": (0.001, 5)}
    app.config["WS_USER_RATE_MULTIPLIER"] = 3


def outcomes(acks: list[dict[str, object]]) -> list[object]:
    return ["ok" if ack["ok"] else ack["error"]["code"] for ack in acks]  # type: ignore[index]


@pytest.mark.usefixtures("slow_refill")
def test_a_burst_over_the_limit_is_refused_and_counted(
    client: FlaskClient, sockets: Sockets, account: SignedIn
) -> None:
    admin = new_account(client, "admin")
    socket = sockets.open(account.access_token)
    socket.drain()
    limited_before = registry.counters["rate_limited"]

    acks = [socket.call("ping", PING) for _ in range(7)]

    assert outcomes(acks) == ["ok"] * 5 + ["rate_limited"] * 2
    assert names(socket.drain()) == ["pong"] * 5 + ["error"] * 2
    assert registry.counters["rate_limited"] == limited_before + 2
    stats = client.get("/api/admin/realtime/stats", headers=admin.headers).get_json()
    assert stats["rate_limited"] == limited_before + 2
    # Each event has its own bucket: telemetry still flows.
    assert socket.call("behavioral_data", telemetry_batch(account.session_id))["ok"] is True
    assert socket.is_connected()


@pytest.mark.usefixtures("slow_refill")
def test_the_user_limit_spans_the_users_connections(sockets: Sockets, account: SignedIn) -> None:
    sockets_of_user = [sockets.open(account.access_token) for _ in range(4)]

    acks = [socket.call("ping", PING) for socket in sockets_of_user for _ in range(5)]

    # Three sockets' 5 pings empty the user's bucket (3 times a connection's burst); the
    # fourth socket is refused although its own bucket is full.
    assert outcomes(acks) == ["ok"] * 15 + ["rate_limited"] * 5


@pytest.mark.usefixtures("slow_refill")
def test_a_client_that_keeps_flooding_is_disconnected(
    app: Flask, client: FlaskClient, sockets: Sockets, account: SignedIn
) -> None:
    app.config["WS_FLOOD_MAX_REJECTIONS"] = 4
    neighbour = sockets.open(second_login(client, account).access_token)
    socket = sockets.open(account.access_token)
    socket.drain()
    floods_before = registry.counters["flood_disconnects"]
    sid = socket.sid

    for _ in range(5 + 4):
        socket.emit("ping", PING)

    received = socket.drain()
    assert names(received) == ["pong"] * 5 + ["error"] * 4
    assert {error["code"] for error in payloads(received, "error")} == {"rate_limited"}
    assert not socket.is_connected()
    assert registry.get(sid) is None
    assert registry.counters["flood_disconnects"] == floods_before + 1
    assert neighbour.is_connected()


def tick(now: float) -> None:
    maintenance_tick(socketio, now=now)


def test_expiring_token_is_warned_once_then_disconnected_after_grace(
    app: Flask, sockets: Sockets, account: SignedIn
) -> None:
    socket = sockets.open(account.access_token)
    socket.drain()
    expires = socket.connection.token_expires_at
    warning, grace = app.config["WS_TOKEN_WARNING_SECONDS"], app.config["WS_TOKEN_GRACE_SECONDS"]

    tick(expires - warning - 1)
    assert socket.drain() == []
    tick(expires - warning + 1)
    assert socket.drain() == [
        ("token_expiring", {"expires_at": expires, "seconds_left": warning - 1})
    ]
    tick(expires - 1)
    tick(expires + grace - 1)
    assert socket.drain() == []
    assert socket.is_connected()

    tick(expires + grace)

    assert payloads(socket.drain(), "error") == [
        {"event": "connect", "code": "token_expired", "message": "access token expired"}
    ]
    assert not socket.is_connected()
    assert registry.count() == 0


def test_update_token_extends_the_socket_and_rearms_the_warning(
    app: Flask, sockets: Sockets, account: SignedIn
) -> None:
    socket = sockets.open(account.access_token)
    expires = socket.connection.token_expires_at
    warning, grace = app.config["WS_TOKEN_WARNING_SECONDS"], app.config["WS_TOKEN_GRACE_SECONDS"]
    tick(expires - warning + 1)
    fresh = forge_access_token(
        app.config["JWT_SECRET_KEY"], account.user_id, account.session_id, 3600
    )
    socket.drain()

    ack = socket.call("update_token", {"token": fresh})

    new_expiry = socket.connection.token_expires_at
    assert new_expiry > expires + 2000
    assert ack == {"ok": True, "expires_at": new_expiry}
    assert socket.drain() == [("token_updated", {"expires_at": new_expiry})]
    tick(expires + grace + 1)
    assert socket.is_connected() and socket.drain() == []
    tick(new_expiry - warning + 1)
    assert names(socket.drain()) == ["token_expiring"]


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("another session of the user", "forbidden"),
        ("expired", "token_expired"),
        ("garbage", "invalid_token"),
        ("refresh token", "invalid_token"),
    ],
)
def test_update_token_refuses_all_but_a_fresh_token_of_this_session(
    app: Flask, client: FlaskClient, sockets: Sockets, account: SignedIn, kind: str, code: str
) -> None:
    secret = app.config["JWT_SECRET_KEY"]
    tokens: dict[str, Callable[[], str]] = {
        "another session of the user": lambda: second_login(client, account).access_token,
        "expired": lambda: forge_access_token(secret, account.user_id, account.session_id, -1),
        "garbage": lambda: "not.a.token",
        "refresh token": lambda: account.refresh_token,
    }
    token = tokens[kind]()
    socket = sockets.open(account.access_token)
    expires = socket.connection.token_expires_at

    ack = socket.call("update_token", {"token": token})

    assert ack["error"]["code"] == code
    assert socket.connection.token_expires_at == expires


Ending = Callable[[FlaskClient, SignedIn, SignedIn], int]


def _ended_by_owner(client: FlaskClient, account: SignedIn, admin: SignedIn) -> int:
    return client.delete(f"/api/sessions/{account.session_id}", headers=account.headers).status_code


def _ended_by_admin(client: FlaskClient, account: SignedIn, admin: SignedIn) -> int:
    return client.delete(f"/api/sessions/{account.session_id}", headers=admin.headers).status_code


def _logged_out(client: FlaskClient, account: SignedIn, admin: SignedIn) -> int:
    return client.post("/api/auth/logout", headers=account.headers).status_code


@pytest.mark.parametrize(
    ("end", "reason"),
    [
        (_ended_by_owner, "terminated_by_user"),
        (_ended_by_admin, "terminated_by_admin"),
        (_logged_out, "logout"),
    ],
)
def test_ending_a_session_tells_its_sockets_then_disconnects_them(
    client: FlaskClient, sockets: Sockets, account: SignedIn, end: Ending, reason: str
) -> None:
    admin = new_account(client, "admin")
    other_session = second_login(client, account)
    ended = [sockets.open(account.access_token) for _ in range(2)]
    survivor = sockets.open(other_session.access_token)
    for socket in (*ended, survivor):
        socket.drain()

    assert end(client, account, admin) == 200

    for socket in ended:
        [(name, body)] = socket.drain()
        assert name == "session_terminated"
        assert body["session_id"] == account.session_id and body["reason"] == reason
        assert body["_meta"]["room"] == f"session:{account.session_id}"
        assert not socket.is_connected()
    assert survivor.is_connected() and survivor.drain() == []
    assert [conn.session_id for conn in registry.all()] == [survivor.connection.session_id]


def test_a_socket_whose_session_ended_unnoticed_is_dropped_on_its_next_subscription(
    sockets: Sockets, account: SignedIn
) -> None:
    socket = sockets.open(account.access_token)
    # Ended without the notification reaching this process (e.g. Redis was down).
    session = db.session.get(UserSession, socket.connection.session_id)
    session.status = "expired"
    db.session.commit()

    ack = socket.call("subscribe_network_topology", {})

    assert ack["error"]["code"] == "forbidden"
    assert not socket.is_connected()


@pytest.mark.parametrize(
    ("change", "told"),
    [
        ({"role": "user"}, ("error", "role_changed")),
        ({"is_active": False}, ("session_terminated", "account_disabled")),
    ],
)
def test_a_role_change_or_disable_drops_the_users_sockets(
    client: FlaskClient, sockets: Sockets, change: dict[str, object], told: tuple[str, str]
) -> None:
    boss = new_account(client, "admin")
    changed = new_account(client, "admin")
    socket = sockets.open(changed.access_token)
    assert socket.call("join_admin_room", {})["ok"] is True
    bystander = sockets.open(boss.access_token)
    socket.drain()

    response = client.patch(
        f"/api/admin/users/{changed.user_id}", json=change, headers=boss.headers
    )

    assert response.status_code == 200, response.get_json()
    [(name, body)] = socket.drain()
    assert (name, body.get("code", body.get("reason"))) == told
    assert not socket.is_connected()
    assert bystander.is_connected()


def test_a_session_marked_ended_refuses_events_connects_and_is_swept(
    sockets: Sockets, account: SignedIn
) -> None:
    acting, idle = sockets.open(account.access_token), sockets.open(account.access_token)
    # The mark a logout sets before disconnecting the sockets it finds; these it missed.
    mark_session_ended(get_redis_client(), account.session_id, 60)

    ack = acting.call("ping", PING)
    late = sockets.open(account.access_token)
    tick(time.time())
    assert idle.is_connected()  # the ending's own notice and disconnect may be on the way
    tick(time.time() + SWEEP_GRACE_SECONDS)

    assert ack["error"]["code"] == "unauthorized" and not acting.is_connected()
    assert not late.is_connected() and late.connect_error == {"message": "unauthorized"}
    assert "error" in names(idle.drain()) and not idle.is_connected()
    assert registry.count() == 0


def test_expired_tokens_are_still_dropped_while_redis_is_down(
    app: Flask, sockets: Sockets, account: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ended-session sweep needs Redis; token expiry does not, and must not wait for it."""
    socket = sockets.open(account.access_token)
    socket.drain()
    expires = socket.connection.token_expires_at

    def redis_down(*args: object) -> None:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr("app.realtime.lifecycle.ended_sessions", redis_down)
    tick(expires + app.config["WS_TOKEN_GRACE_SECONDS"])

    assert payloads(socket.drain(), "error") == [
        {"event": "connect", "code": "token_expired", "message": "access token expired"}
    ]
    assert not socket.is_connected()
