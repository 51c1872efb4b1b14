"""The session room is joined at connect, so connection_response carries its recovery
baseline (a client that has seen no session event yet can still recover that room)."""

from __future__ import annotations

from app.realtime.emit import emit_to_session
from tests.unit.sockets import Account, Sockets, payloads


def test_connection_response_carries_the_session_rooms_offset(
    sockets: Sockets, account: Account
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
