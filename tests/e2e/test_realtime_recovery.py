"""Missed-event recovery across a reconnect, on real processes.

A client leaves, five events go to its user room, it comes back (to the other process)
and asks for what it missed: all five arrive once, in order, then `recovery`. When the
log keeps fewer events than were missed it is told `recovered: false` instead.
"""

from __future__ import annotations

import secrets

import pytest
from flask import Flask

from app.realtime.emit import emit_to_user
from tests.conftest import SignedIn
from tests.e2e.clients import RecordingClient
from tests.e2e.conftest import Accounts, Clients, Servers
from tests.e2e.servers import WebServer

pytestmark = pytest.mark.integration


def miss_five_events(
    clients: Clients, server: WebServer, worker: Flask, user: SignedIn
) -> tuple[int, list[int], str]:
    """Join the user room, leave, and let a worker emit five events to it meanwhile.
    Returns the last offset the client saw, the offsets of the missed events and their
    marker."""
    client = clients.connect(server, user.access_token)
    last_seen = client.call("join_user_room", {"user_id": user.user_id})["offset"]
    client.close()
    marker = secrets.token_hex(8)
    with worker.app_context():
        missed = [
            emit_to_user(user.user_id, "notification", {"marker": marker, "n": n}) for n in range(5)
        ]
    return last_seen, [offset for offset in missed if offset is not None], marker


def come_back(
    clients: Clients, server: WebServer, user: SignedIn, last_seen: int
) -> RecordingClient:
    client = clients.connect(server, user.access_token)
    client.call("join_user_room", {"user_id": user.user_id})
    client.call("recover", {"offsets": {f"user:{user.user_id}": last_seen}})
    client.settle()
    return client


def test_a_reconnecting_client_gets_each_missed_event_once_in_order(
    servers: Servers, worker: Flask, accounts: Accounts, clients: Clients
) -> None:
    user = accounts.login(servers.a)
    room = f"user:{user.user_id}"
    last_seen, missed, marker = miss_five_events(clients, servers.a, worker, user)
    assert missed == list(range(last_seen + 1, last_seen + 6))

    client = come_back(clients, servers.b, user, last_seen)

    replayed = client.payloads("notification", lambda data: data.get("marker") == marker)
    assert [(data["n"], data["_meta"]) for data in replayed] == [
        (n, {"room": room, "offset": offset}) for n, offset in enumerate(missed)
    ]
    assert client.payloads("recovery") == [
        {"room": room, "recovered": True, "replayed": 5, "offset": missed[-1], "reason": None}
    ]
    names = client.names()
    assert max(i for i, name in enumerate(names) if name == "notification") < names.index(
        "recovery"
    )


def test_past_the_kept_events_the_client_is_told_to_reload(
    servers: Servers, tight_worker: Flask, accounts: Accounts, clients: Clients
) -> None:
    user = accounts.login(servers.tight)
    last_seen, missed, marker = miss_five_events(clients, servers.tight, tight_worker, user)

    client = come_back(clients, servers.tight, user, last_seen)

    assert client.payloads("notification", lambda data: data.get("marker") == marker) == []
    assert client.payloads("recovery") == [
        {
            "room": f"user:{user.user_id}",
            "recovered": False,
            "replayed": 0,
            "offset": missed[-1],
            "reason": "out_of_window",
        }
    ]
