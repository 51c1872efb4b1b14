"""Random and hostile input for every Socket.IO event (property-based).

Whatever a signed-in user sends (wrong types, huge arrays, deep nesting, unknown or reserved
event names, other users' ids, extra arguments), it gets one `error` and a refusing ack,
nothing is stored or joined, and a second, well-behaved client is still served. Without a
valid token nobody gets as far as sending an event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from app.models import BehavioralSample
from app.realtime.connections import registry
from app.schemas import events as schemas
from tests.conftest import SignedIn, count
from tests.tokens import forge_access_token
from tests.unit.sockets import (
    SocketClient,
    Sockets,
    names,
    new_account,
    payloads,
    telemetry_batch,
)

SCHEMAS: dict[str, type[BaseModel]] = {
    "join_user_room": schemas.JoinUserRoom,
    "join_admin_room": schemas.Empty,
    "subscribe_risk_score": schemas.SubscribeRiskScore,
    "subscribe_network_topology": schemas.Empty,
    "behavioral_data": schemas.BehavioralData,
    "ping": schemas.Ping,
    "update_token": schemas.UpdateToken,
    "recover": schemas.Recover,
}
CODES = {"invalid_payload", "forbidden", "not_found", "unauthorized", "invalid_token"}
FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

text_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)


def containers(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner),
        max_leaves=25,
    )


# JSON only: binary packets are refused below the handlers (tests/unit/test_realtime_packets.py).
json_values = containers(text_scalars)
auth_values = json_values


def nested(depth: int, as_dict: bool) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


deep = st.builds(nested, st.integers(50, 400), st.booleans())
huge = st.integers(2_000, 30_000).map(lambda n: list(range(n))) | st.integers(10_000, 100_000).map(
    lambda n: "x" * n
)


def with_fields(event: str) -> st.SearchStrategy[dict[str, Any]]:
    """The event's own field names with arbitrary values, sometimes plus an unknown field."""
    fields = list(SCHEMAS[event].model_fields)
    known = st.fixed_dictionaries({}, optional={f: json_values | deep | huge for f in fields})
    extra = st.dictionaries(st.text(min_size=1, max_size=12), json_values, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, known, extra)


def accepted_by_schema(event: str, payload: Any) -> bool:
    try:
        SCHEMAS[event].model_validate({} if payload is None else payload)
    except ValidationError:
        return False
    return True


@dataclass
class Scene:
    app: Flask
    me: SignedIn
    victim: SignedIn
    socket: SocketClient
    bystander: SocketClient

    def hostile(self) -> list[tuple[str, tuple[Any, ...]]]:
        """Well-formed events aimed at another user's rooms, session and token."""
        secret = self.app.config["JWT_SECRET_KEY"]
        victim_token = forge_access_token(secret, self.victim.user_id, self.victim.session_id, 60)
        return [
            ("join_user_room", ({"user_id": self.victim.user_id},)),
            ("join_admin_room", ({},)),
            (
                "subscribe_risk_score",
                ({"user_id": self.victim.user_id, "session_id": self.victim.session_id},),
            ),
            (
                "subscribe_risk_score",
                ({"user_id": self.me.user_id, "session_id": self.victim.session_id},),
            ),
            ("behavioral_data", (telemetry_batch(self.victim.session_id),)),
            ("update_token", ({"token": victim_token},)),
            ("update_token", ({"token": self.victim.access_token},)),
            ("recover", ({"offsets": {f"user:{self.victim.user_id}": 0}},)),
            ("recover", ({"offsets": {f"session:{self.victim.session_id}": 0}},)),
            ("ping", ({"client_ts": 1.0}, {"client_ts": 2.0})),
            ("behavioral_data", (telemetry_batch(self.me.session_id), "extra")),
        ]


@pytest.fixture
def scene(app: Flask, client: FlaskClient, sockets: Sockets) -> Scene:
    # Limits are tested elsewhere; here every event must reach its handler.
    app.config["WS_RATE_LIMITS"] = {"default": (1e9, 10**9), "behavioral_data": (1e9, 10**9)}
    me, victim, neighbour = new_account(client), new_account(client), new_account(client)
    socket, bystander = sockets.open(me.access_token), sockets.open(neighbour.access_token)
    bystander.drain()
    return Scene(app, me, victim, socket, bystander)


def event_and_args(scene: Scene) -> st.SearchStrategy[tuple[str, tuple[Any, ...]]]:
    known = st.sampled_from(sorted(SCHEMAS))
    random_payload = known.flatmap(
        lambda event: st.tuples(
            st.just(event),
            st.one_of(json_values, deep, huge, with_fields(event)).filter(
                lambda payload: not accepted_by_schema(event, payload)
            ),
        ).map(lambda pair: (pair[0], (pair[1],)))
    )
    extra_args = st.tuples(known, st.lists(json_values, min_size=2, max_size=4).map(tuple))
    unknown = st.tuples(
        st.text(max_size=30).filter(lambda name: name not in SCHEMAS)
        | st.sampled_from(["connect", "disconnect", "connect_error", "message", "json", "*"])
        | st.none()
        | st.integers()
        | st.lists(st.integers(), max_size=2),
        st.lists(json_values | st.just(scene.bystander.sid), max_size=2).map(tuple),
    )
    return st.one_of(random_payload, extra_args, unknown, st.sampled_from(scene.hostile()))


@FUZZ
@given(data=st.data())
def test_hostile_events_are_refused_and_change_nothing(scene: Scene, data: st.DataObject) -> None:
    event, args = data.draw(event_and_args(scene))
    scene.socket.drain()
    rooms = set(scene.socket.connection.rooms)
    expires = scene.socket.connection.token_expires_at

    ack = scene.socket.call(event, *args)

    assert isinstance(ack, dict) and ack["ok"] is False, ack
    assert ack["error"]["code"] in CODES, ack
    assert scene.socket.drain() == [("error", ack["error"])]
    assert scene.socket.connection.rooms == rooms
    assert scene.socket.connection.token_expires_at == expires
    assert count(BehavioralSample) == 0
    pong = scene.bystander.call("ping", {"client_ts": 7.0})
    assert pong["ok"] is True and names(scene.bystander.drain()) == ["pong"]


def forged(scene: Scene, expires_in: float, user_id: int) -> str:
    secret = scene.app.config["JWT_SECRET_KEY"]
    return forge_access_token(secret, user_id, scene.me.session_id, expires_in)


@FUZZ
@given(data=st.data())
def test_connections_without_a_valid_token_are_refused(
    scene: Scene, sockets: Sockets, data: st.DataObject
) -> None:
    token_like = st.one_of(
        auth_values,
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", max_size=300),
        st.floats(-1e6, -1).map(lambda seconds: forged(scene, seconds, scene.me.user_id)),
        st.integers(1, 2**31).map(
            lambda uid: forged(scene, 60, uid if uid != scene.me.user_id else uid + 1)
        ),
        st.sampled_from([scene.me.refresh_token, scene.me.access_token[:-2] + "xx"]),
    )
    # What a Socket.IO client can send as auth: nothing or an object.
    objects = st.dictionaries(st.text(max_size=12), auth_values, max_size=4)
    auth = data.draw(st.none() | objects | st.fixed_dictionaries({"token": token_like}))
    connections = registry.count()

    socket = sockets.open(auth=auth)

    assert not socket.is_connected()
    assert socket.connect_error == {"message": "unauthorized"}
    assert registry.count() == connections
    assert not math.isnan(scene.bystander.call("ping", {"client_ts": 1.0})["server_ts"])
    assert payloads(scene.bystander.drain(), "pong")
