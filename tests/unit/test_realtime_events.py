"""Socket.IO events: who may do what (the authorization matrix), and what connecting takes.

Each event is sent by the owner of a user and session, by another user and by an admin;
connections without a valid access token are refused before any event can be sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.database import utcnow
from app.extensions import db
from app.models import BehavioralSample, UserSession
from app.realtime import emit
from app.realtime.connections import registry
from tests.conftest import SignedIn, count
from tests.tokens import forge_access_token
from tests.unit.sockets import Sockets, names, new_account, payloads, telemetry_batch


@dataclass
class World:
    owner: SignedIn
    other: SignedIn
    admin: SignedIn

    def actor(self, name: str) -> SignedIn:
        return {"owner": self.owner, "other": self.other, "admin": self.admin}[name]


@pytest.fixture
def world(client: FlaskClient) -> World:
    return World(
        owner=new_account(client), other=new_account(client), admin=new_account(client, "admin")
    )


Payload = Callable[[World, Flask], dict[str, Any]]
OK = "ok"
# event: (payload about the owner's user and session, outcome per actor)
MATRIX: dict[str, tuple[Payload, dict[str, str]]] = {
    "join_user_room": (
        lambda w, app: {"user_id": w.owner.user_id},
        {"owner": OK, "other": "forbidden", "admin": OK},
    ),
    "join_admin_room": (
        lambda w, app: {},
        {"owner": "forbidden", "other": "forbidden", "admin": OK},
    ),
    "subscribe_risk_score": (
        lambda w, app: {"user_id": w.owner.user_id, "session_id": w.owner.session_id},
        # Another user's session is answered as an unknown one.
        {"owner": OK, "other": "not_found", "admin": OK},
    ),
    "subscribe_network_topology": (lambda w, app: {}, {"owner": OK, "other": OK, "admin": OK}),
    "behavioral_data": (
        lambda w, app: telemetry_batch(w.owner.session_id),
        {"owner": OK, "other": "forbidden", "admin": "forbidden"},
    ),
    "ping": (lambda w, app: {"client_ts": 12.5}, {"owner": OK, "other": OK, "admin": OK}),
    "update_token": (
        lambda w, app: {
            "token": forge_access_token(
                app.config["JWT_SECRET_KEY"], w.owner.user_id, w.owner.session_id, 3600
            )
        },
        {"owner": OK, "other": "forbidden", "admin": "forbidden"},
    ),
    "recover": (
        lambda w, app: {"offsets": {f"session:{w.owner.session_id}": 0}},
        {"owner": OK, "other": "forbidden", "admin": "forbidden"},
    ),
}
# What an accepted event sends back besides its ack.
REPLIES = {
    "join_user_room": ["room_joined"],
    "join_admin_room": ["room_joined"],
    "subscribe_risk_score": ["room_joined", "risk_score_update"],
    "subscribe_network_topology": ["room_joined", "network_topology_update"],
    "behavioral_data": [],
    "ping": ["pong"],
    "update_token": ["token_updated"],
    "recover": ["recovery"],
}
CASES = [(event, actor) for event, (_, outcome) in MATRIX.items() for actor in outcome]


@pytest.mark.parametrize(("event", "actor"), CASES)
def test_authorization_matrix(
    app: Flask, sockets: Sockets, world: World, event: str, actor: str
) -> None:
    payload_for, outcome = MATRIX[event]
    socket = sockets.open(world.actor(actor).access_token)
    socket.drain()
    rooms_before = set(socket.connection.rooms)

    ack = socket.call(event, payload_for(world, app))

    received = socket.drain()
    if outcome[actor] == OK:
        assert ack["ok"] is True, ack
        assert names(received) == REPLIES[event]
    else:
        assert ack["ok"] is False and ack["error"]["code"] == outcome[actor], ack
        assert ack["error"]["event"] == event and ack["error"]["message"]
        assert received == [("error", ack["error"])]
        assert socket.connection.rooms == rooms_before
    assert count(BehavioralSample) == (
        1 if (event, outcome[actor]) == ("behavioral_data", OK) else 0
    )


def test_a_refused_join_receives_nothing_of_that_room(sockets: Sockets, world: World) -> None:
    intruder = sockets.open(world.other.access_token)
    owner = sockets.open(world.owner.access_token)
    intruder.call("join_user_room", {"user_id": world.owner.user_id})
    intruder.call("join_admin_room", {})
    owner.call("join_user_room", {"user_id": world.owner.user_id})
    intruder.drain()
    owner.drain()

    emit.emit_to_user(world.owner.user_id, "notification", {"text": "for the owner"})
    emit.emit_to_admins("admin_notification", {"text": "for admins"})

    assert names(owner.drain()) == ["notification"]
    assert intruder.drain() == []


def test_room_joined_and_user_room_events_carry_offsets(sockets: Sockets, world: World) -> None:
    socket = sockets.open(world.owner.access_token)
    room = f"user:{world.owner.user_id}"
    before = emit.emit_to_user(world.owner.user_id, "notification", {"n": 1})

    ack = socket.call("join_user_room", {"user_id": world.owner.user_id})
    emit.emit_to_user(world.owner.user_id, "notification", {"n": 2})
    emit.emit_risk_update(world.owner.session_id, {"risk_score": 0.5})

    assert ack == {"ok": True, "room": room, "offset": before}
    assert socket.drain()[1:] == [
        ("room_joined", {"room": room, "offset": before}),
        ("notification", {"n": 2, "_meta": {"room": room, "offset": before + 1}}),
    ]


def test_risk_score_subscription_sends_the_stored_score_at_once(
    sockets: Sockets, world: World
) -> None:
    socket = sockets.open(world.admin.access_token)
    socket.call(
        "subscribe_risk_score",
        {"user_id": world.owner.user_id, "session_id": world.owner.session_id},
    )
    assert payloads(socket.drain(), "risk_score_update") == [
        {
            "session_id": world.owner.session_id,
            "user_id": world.owner.user_id,
            "risk_score": None,
            "risk_level": None,
            "scored": False,
        }
    ]


@pytest.mark.parametrize(
    ("user", "session", "code"),
    [
        ("other", "owner", "not_found"),  # the owner's session named as another user's
        ("owner", "unknown", "not_found"),
        ("owner", "not-a-uuid", "invalid_payload"),
    ],
)
def test_risk_score_subscription_checks_user_and_session(
    sockets: Sockets, world: World, user: str, session: str, code: str
) -> None:
    session_id = {
        "owner": world.owner.session_id,
        "unknown": str(uuid.uuid4()),
        "not-a-uuid": "x" * 36,
    }[session]
    socket = sockets.open(world.owner.access_token)
    ack = socket.call(
        "subscribe_risk_score", {"user_id": world.actor(user).user_id, "session_id": session_id}
    )
    assert ack["error"]["code"] == code


def test_topology_snapshot_is_own_subgraph_for_users_and_whole_graph_for_admins(
    sockets: Sockets, world: World
) -> None:
    def snapshot(login: SignedIn) -> dict[str, Any]:
        socket = sockets.open(login.access_token)
        socket.call("subscribe_network_topology", {})
        [graph] = payloads(socket.drain(), "network_topology_update")
        return graph

    own = snapshot(world.owner)
    everything = snapshot(world.admin)

    owner_node, other_node = (
        f"session:{world.owner.session_id}",
        f"session:{world.other.session_id}",
    )
    own_ids = {node["id"] for node in own["nodes"]}
    assert own["scope"] == "own" and own["op"] == "snapshot"
    assert owner_node in own_ids and other_node not in own_ids
    assert {f"user:{world.owner.user_id}"} == {n["id"] for n in own["nodes"] if n["type"] == "user"}
    assert everything["scope"] == "all"
    assert {owner_node, other_node} <= {node["id"] for node in everything["nodes"]}


def _expired(app: Flask, login: SignedIn) -> dict[str, Any]:
    secret = app.config["JWT_SECRET_KEY"]
    return {"token": forge_access_token(secret, login.user_id, login.session_id, -5)}


def _tampered(app: Flask, login: SignedIn) -> dict[str, Any]:
    head, claims, signature = login.access_token.split(".")
    return {"token": f"{head}.{claims}.{signature[::-1]}"}


def _wrong_secret(app: Flask, login: SignedIn) -> dict[str, Any]:
    return {
        "token": forge_access_token(
            "another secret of the same length, or longer", login.user_id, login.session_id, 600
        )
    }


def _other_users_session(app: Flask, login: SignedIn) -> dict[str, Any]:
    secret = app.config["JWT_SECRET_KEY"]
    return {"token": forge_access_token(secret, login.user_id + 1, login.session_id, 600)}


def _ended_session(app: Flask, login: SignedIn) -> dict[str, Any]:
    session = db.session.get(UserSession, uuid.UUID(login.session_id))
    session.status, session.ended_at = "terminated", utcnow()
    db.session.commit()
    return {"token": login.access_token}


REFUSED_AUTH: dict[str, Callable[[Flask, SignedIn], Any]] = {
    "no auth": lambda app, login: None,
    "no token": lambda app, login: {},
    "empty token": lambda app, login: {"token": ""},
    "token not text": lambda app, login: {"token": 12345},
    "auth not an object": lambda app, login: login.access_token,
    "expired": _expired,
    "tampered": _tampered,
    "wrong secret": _wrong_secret,
    "refresh token": lambda app, login: {"token": login.refresh_token},
    "session of another user": _other_users_session,
    "ended session": _ended_session,
}


@pytest.mark.parametrize("kind", REFUSED_AUTH)
def test_connection_without_a_valid_access_token_is_refused(
    app: Flask, sockets: Sockets, account: SignedIn, kind: str
) -> None:
    refused_before = registry.counters["refused_connections"]

    socket = sockets.open(auth=REFUSED_AUTH[kind](app, account))

    assert not socket.is_connected()
    assert socket.connect_error == {"message": "unauthorized"}
    assert socket.queue == []
    assert registry.count() == 0
    assert registry.counters["refused_connections"] == refused_before + 1
    with pytest.raises(RuntimeError, match="not connected"):
        socket.emit("ping", {"client_ts": 1})


def test_connect_answers_with_the_principal(sockets: Sockets, account: SignedIn) -> None:
    socket = sockets.open(account.access_token)
    [(name, body)] = socket.drain()
    assert name == "connection_response"
    assert body["sid"] == socket.sid
    assert body["user_id"] == account.user_id
    assert body["session_id"] == account.session_id
    assert body["server_time"] > 0 and body["token_expires_at"] > 0
    assert socket.connection.rooms == {f"session:{account.session_id}"}


@pytest.mark.parametrize("event", ["connect", "disconnect"])
def test_reserved_event_names_sent_by_a_client_change_nothing(
    client: FlaskClient, sockets: Sockets, account: SignedIn, event: str
) -> None:
    """A client must not re-run the lifecycle handlers: re-authenticating would reset its
    limits, and leaving the registry would let it escape expiry and termination."""
    socket = sockets.open(account.access_token)
    other = new_account(client)
    conn = socket.connection
    socket.drain()

    ack = socket.call(event, {"token": other.access_token})

    assert ack["error"] == {"event": event, "code": "not_found", "message": "unknown event"}
    assert socket.connection is conn and conn.user_id == account.user_id
    response = client.delete(f"/api/sessions/{account.session_id}", headers=account.headers)
    assert response.status_code == 200
    assert "session_terminated" in names(socket.drain())
    assert not socket.is_connected()


def test_an_event_named_star_runs_as_its_sender_whatever_sid_it_names(
    sockets: Sockets, world: World
) -> None:
    victim = sockets.open(world.owner.access_token)
    attacker = sockets.open(world.other.access_token)
    victim.drain()
    attacker.drain()

    acks = [attacker.call("*", victim.sid, {"x": 1}) for _ in range(3)]

    assert [ack["error"]["code"] for ack in acks] == ["not_found"] * 3
    assert names(attacker.drain()) == ["error"] * 3
    assert victim.drain() == []


@pytest.mark.parametrize("event", ["no_such_event", "message", "json", "connect_error", "x" * 500])
def test_unknown_events_are_not_found(sockets: Sockets, account: SignedIn, event: str) -> None:
    socket = sockets.open(account.access_token)
    socket.drain()
    ack = socket.call(event, {"any": "thing"})
    assert ack["error"] == {"event": event[:64], "code": "not_found", "message": "unknown event"}
    assert socket.drain() == [("error", ack["error"])]


def test_stats_show_connections_rooms_and_events(
    client: FlaskClient, sockets: Sockets, world: World
) -> None:
    first = sockets.open(world.owner.access_token)
    second = sockets.open(world.owner.access_token)
    admin = sockets.open(world.admin.access_token)
    first.call("join_user_room", {"user_id": world.owner.user_id})
    admin.call("join_admin_room", {})
    pings_before = registry.events_received["ping"]
    second.call("ping", {"client_ts": 1})

    stats = client.get("/api/admin/realtime/stats", headers=world.admin.headers).get_json()

    assert stats["total_connections"] == 3
    assert stats["unique_users"] == 2
    assert stats["connections_per_room_type"] == {"session": 3, "user": 1, "admin": 1}
    assert stats["events_received"]["ping"] == pings_before + 1
    assert stats["cluster"]["processes"] >= 1
    assert stats["cluster"]["per_process"][stats["process_id"]]["total_connections"] == 3
    denied = client.get("/api/admin/realtime/stats", headers=world.owner.headers)
    assert denied.status_code == 403
