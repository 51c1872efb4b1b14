"""The session room is joined at connect, so connection_response carries its recovery
baseline (a client that has seen no session event yet can still recover that room)."""

from __future__ import annotations

from flask.testing import FlaskClient

from app.realtime.emit import broadcast, emit_to_session
from tests.conftest import SignedIn
from tests.unit.sockets import Sockets, new_account, payloads


def test_connection_response_carries_the_session_rooms_offset(
    sockets: Sockets, account: SignedIn
) -> None:
    first = sockets.open(account.access_token)
    (response,) = payloads(first.drain(), "connection_response")
    assert response["session_room"] == f"session:{account.session_id}"
    assert response["session_offset"] == 0

    emit_to_session(account.session_id, "policy_update", {"decision": "step_up"})
    emit_to_session(account.session_id, "policy_update", {"decision": "allow"})
    second = sockets.open(account.access_token)
    (response,) = payloads(second.drain(), "connection_response")
    assert response["session_offset"] == 2

    replay = second.call("recover", {"offsets": {response["session_room"]: 0}})
    assert replay["rooms"][response["session_room"]]["replayed"] == 2
    decisions = [p["decision"] for p in payloads(second.drain(), "policy_update")]
    assert decisions == ["step_up", "allow"]


def test_broadcast_reaches_every_connected_socket(sockets: Sockets, client: FlaskClient) -> None:
    first, second = new_account(client), new_account(client)
    sockets_of = [sockets.open(first.access_token), sockets.open(second.access_token)]
    for socket in sockets_of:
        socket.drain()
    broadcast("notification", {"kind": "maintenance", "title": "Restart at 02:00"})
    for socket in sockets_of:
        (note,) = payloads(socket.drain(), "notification")
        assert note == {"kind": "maintenance", "title": "Restart at 02:00"}  # no room offset
