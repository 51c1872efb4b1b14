"""The Redis budgets of users and addresses, and the caps of open sockets (one Lua call
each, on the embedded Redis)."""

from __future__ import annotations

import json
import uuid

import pytest
from flask import Flask

from app.extensions import socketio
from app.realtime.budgets import ENDED, ConnectRefused, budgets
from app.realtime.connections import registry
from app.realtime.lifecycle import presence
from app.realtime.presence import conns_key, mark_session_ended
from app.redis_client import get_redis_client
from tests.conftest import app_in_context, make_user, sign_in


@pytest.fixture
def tight(app: Flask) -> Flask:
    app.config.update(
        WS_CONNECT_RATE_PER_USER=(0.001, 3),
        WS_CONNECT_RATE_PER_ADDRESS=(0.001, 5),
        WS_MAX_CONNECTIONS_PER_USER=4,
        WS_MAX_CONNECTIONS_PER_SESSION=2,
        WS_RATE_LIMITS={"default": (0.001, 2)},
        WS_USER_RATE_MULTIPLIER=2,
        WS_ADDRESS_RATE_MULTIPLIER=3,
    )
    return app


def refusal(admit: object) -> str | None:
    try:
        budgets().admit(*admit)  # type: ignore[misc]
    except ConnectRefused as refused:
        return refused.reason
    return None


@pytest.mark.usefixtures("tight")
def test_connects_are_budgeted_per_user_then_per_address() -> None:
    first, second = [
        [refusal((uuid.uuid4().hex, user, "10.0.0.1", uuid.uuid4())) for _ in range(4)]
        for user in (1, 2)
    ]
    assert first == [None, None, None, "rate_limited"]  # the user's burst of 3
    assert second == [None, None, "rate_limited", "rate_limited"]  # the address's 5 spent
    assert refusal((uuid.uuid4().hex, 3, "10.0.0.2", uuid.uuid4())) is None


def test_open_sockets_are_capped_per_session_and_dead_ones_pruned(tight: Flask) -> None:
    tight.config["WS_CONNECT_RATE_PER_USER"] = (0.001, 10)
    session = uuid.uuid4()
    for sid in ("sid0", "sid1"):
        assert refusal((sid, 7, "10.0.1.1", session)) is None
        presence().connected(sid, 7, session)  # registered by this (live) process

    assert refusal(("sid2", 7, "10.0.1.2", session)) == "too_many_connections"
    # This process dies without a goodbye: its connections' entry expires.
    get_redis_client().delete(conns_key(presence().process_id))
    assert refusal(("sid3", 7, "10.0.1.3", session)) is None
    assert get_redis_client().smembers(f"zt:ws:sess:{session}") == {b"sid3"}


@pytest.mark.usefixtures("tight")
def test_events_are_budgeted_per_user_and_address_and_an_ended_session_says_so() -> None:
    session = uuid.uuid4()
    take = budgets().take_event
    assert [take(1, "10.0.2.1", session, "ping") for _ in range(5)] == [1, 1, 1, 1, 0]
    assert [take(2, "10.0.2.1", session, "ping") for _ in range(3)] == [1, 1, 0]  # address: 6
    mark_session_ended(get_redis_client(), session, 60)
    assert take(3, "10.0.2.9", session, "ping") == ENDED


def test_behind_a_trusted_proxy_sockets_are_budgeted_by_the_clients_address(
    base_config: dict,
) -> None:
    """Socket.IO's middleware sits outside Flask's app: the proxy's X-Forwarded-For must be
    applied outside it too, or every user behind the proxy shares one address budget."""
    with app_in_context({**base_config, "PROXY_FIX_X_FOR": 1}) as app:
        client = app.test_client()
        login = sign_in(client, make_user())
        forwarded = {"X-Forwarded-For": "203.0.113.7"}
        handshake = client.get("/socket.io/?EIO=4&transport=polling", headers=forwarded)
        sid = json.loads(handshake.get_data(as_text=True)[1:])["sid"]
        connect = client.post(
            f"/socket.io/?EIO=4&transport=polling&sid={sid}",
            data="40" + json.dumps({"token": login.access_token}),
            headers=forwarded,
        )
        assert connect.status_code == 200
        try:
            [conn] = registry.all()
            assert conn.address == "203.0.113.7"
        finally:
            socketio.server.disconnect(conn.sid)
