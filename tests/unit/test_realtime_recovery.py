"""Missed-event recovery: the per-room event log, and the `recover` event that replays it."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from flask import Flask

from app.realtime import emit
from app.realtime.recovery import EventLog, Recovery
from app.redis_client import get_redis_client
from tests.conftest import SignedIn
from tests.unit.sockets import Sockets, names, payloads

WINDOW_SECONDS = 120


@pytest.fixture
def redis_client(app: Flask) -> redis.Redis:
    return get_redis_client()


@pytest.fixture
def room() -> str:
    return f"user:{uuid.uuid4().hex}"


def filled(client: redis.Redis, room: str, n: int, max_events: int = 1000) -> EventLog:
    log = EventLog(client, max_events, WINDOW_SECONDS)
    for i in range(1, n + 1):
        assert log.append(room, "notification", {"n": i}) == i
    return log


def test_replays_exactly_the_missed_events_in_order(redis_client: redis.Redis, room: str) -> None:
    log = filled(redis_client, room, 5)

    outcome = log.since(room, 2)

    assert outcome.recovered and outcome.reason is None and outcome.current_offset == 5
    assert [(e.offset, e.event, e.data) for e in outcome.events] == [
        (3, "notification", {"n": 3}),
        (4, "notification", {"n": 4}),
        (5, "notification", {"n": 5}),
    ]


def test_nothing_missed_is_recovered_with_nothing_to_replay(
    redis_client: redis.Redis, room: str
) -> None:
    log = filled(redis_client, room, 3)
    assert log.since(room, 3) == Recovery(True, [], None, 3)
    assert filled(redis_client, f"{room}:new", 0).since(f"{room}:new", 0).recovered


def test_beyond_the_kept_events_nothing_is_replayed(redis_client: redis.Redis, room: str) -> None:
    log = filled(redis_client, room, 5, max_events=3)

    lost = log.since(room, 1)  # offset 2 has been trimmed away
    kept = log.since(room, 2)  # 3, 4, 5 are the three kept

    assert (lost.recovered, lost.reason, lost.events, lost.current_offset) == (
        False,
        "out_of_window",
        [],
        5,
    )
    assert kept.recovered and [e.offset for e in kept.events] == [3, 4, 5]


def test_events_older_than_the_time_window_are_not_replayed(
    redis_client: redis.Redis, room: str
) -> None:
    log = filled(redis_client, room, 2)

    later = log.since(room, 0, now=time.time() + WINDOW_SECONDS + 1)

    assert (later.recovered, later.reason, later.events) == (False, "out_of_window", [])
    assert log.since(room, 0).recovered


def test_an_offset_the_room_never_reached_is_unknown(redis_client: redis.Redis, room: str) -> None:
    log = filled(redis_client, room, 2)
    outcome = log.since(room, 3)
    assert (outcome.recovered, outcome.reason, outcome.current_offset) == (
        False,
        "unknown_offset",
        2,
    )


def test_events_appended_during_recovery_are_left_to_live_delivery(
    redis_client: redis.Redis, room: str
) -> None:
    class AppendsWhileRecovering(EventLog):
        def current_offset(self, room: str) -> int:
            offset = super().current_offset(room)
            self.append(room, "notification", {"n": "late"})
            return offset

    filled(redis_client, room, 4)
    log = AppendsWhileRecovering(redis_client, 1000, WINDOW_SECONDS)

    outcome = log.since(room, 2)

    assert outcome.recovered and [e.offset for e in outcome.events] == [3, 4]
    assert outcome.current_offset == 4


def test_recover_replays_what_a_reconnecting_socket_missed(
    sockets: Sockets, account: SignedIn
) -> None:
    room = f"user:{account.user_id}"
    first = sockets.open(account.access_token)
    first.call("join_user_room", {"user_id": account.user_id})
    seen = emit.emit_to_user(account.user_id, "notification", {"n": 0})
    first.disconnect()
    missed = [emit.emit_to_user(account.user_id, "notification", {"n": n}) for n in (1, 2, 3)]

    second = sockets.open(account.access_token)
    second.call("join_user_room", {"user_id": account.user_id})
    second.drain()
    ack = second.call("recover", {"offsets": {room: seen}})

    received = second.drain()
    assert names(received) == ["notification"] * 3 + ["recovery"]
    assert payloads(received, "notification") == [
        {"n": n, "_meta": {"room": room, "offset": offset}}
        for n, offset in zip((1, 2, 3), missed, strict=True)
    ]
    result = {"room": room, "recovered": True, "replayed": 3, "offset": missed[-1], "reason": None}
    assert payloads(received, "recovery") == [result]
    assert ack == {"ok": True, "rooms": {room: result}}


def test_recover_past_the_kept_events_says_so_and_replays_nothing(
    app: Flask, sockets: Sockets, account: SignedIn
) -> None:
    app.config["WS_RECOVERY_MAX_EVENTS"] = 3
    room = f"user:{account.user_id}"
    socket = sockets.open(account.access_token)
    joined = socket.call("join_user_room", {"user_id": account.user_id})
    for n in range(5):
        emit.emit_to_user(account.user_id, "notification", {"n": n})
    socket.drain()

    socket.call("recover", {"offsets": {room: joined["offset"]}})

    assert socket.drain() == [
        (
            "recovery",
            {
                "room": room,
                "recovered": False,
                "replayed": 0,
                "offset": joined["offset"] + 5,
                "reason": "out_of_window",
            },
        )
    ]


def test_recover_of_a_room_not_joined_is_refused_as_a_whole(
    sockets: Sockets, account: SignedIn
) -> None:
    socket = sockets.open(account.access_token)
    emit.emit_to_session(account.session_id, "notification", {"n": 1})
    socket.drain()

    ack = socket.call(
        "recover",
        {"offsets": {f"session:{account.session_id}": 0, f"user:{account.user_id}": 0}},
    )

    assert ack["error"]["code"] == "forbidden"
    assert names(socket.drain()) == ["error"]
