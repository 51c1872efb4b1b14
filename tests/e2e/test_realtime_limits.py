"""Connect refusal, hostile packets, rate limits, flood disconnect and token expiry on a
real process.

The `tight` server refills its default bucket at 0.2 events/s with bursts of 5,
disconnects after 5 refusals, warns 2 s before a token expires and allows 1 s of grace.
"""

from __future__ import annotations

import json
import time

import pytest
import socketio

from tests.conftest import TEST_PASSWORD
from tests.e2e.clients import WAIT_SECONDS, RecordingClient, login, raw_socket
from tests.e2e.clients import realtime_stats as local_stats
from tests.e2e.conftest import TIGHT, Accounts, Clients, Platform, Servers
from tests.procs import wait_for
from tests.tokens import forge_access_token

pytestmark = pytest.mark.integration
BURST = 5
TOKEN_SECONDS = 4


@pytest.mark.parametrize("token", ["expired", "tampered", "none"])
def test_a_connection_without_a_valid_token_is_refused(
    servers: Servers, platform: Platform, accounts: Accounts, token: str
) -> None:
    user = accounts.login(servers.a)
    auth = {
        "expired": {
            "token": forge_access_token(platform.jwt_secret, user.user_id, user.session_id, -5)
        },
        "tampered": {"token": user.access_token[:-3] + "abc"},
        "none": {},
    }[token]
    client = RecordingClient()

    with pytest.raises(socketio.exceptions.ConnectionError):
        client.sio.connect(servers.a.url, auth=auth, transports=["websocket"], wait_timeout=10)

    assert client.payloads("connect_error") == [{"message": "unauthorized"}]
    client.close()


def test_a_packet_too_deeply_nested_to_decode_is_dropped_and_the_socket_still_served(
    servers: Servers, accounts: Accounts
) -> None:
    """Below the event handlers: the Socket.IO decoder itself gives up (RecursionError);
    the server must log it and carry on, for this connection too."""
    user = accounts.login(servers.a)
    ws = raw_socket(servers.a, user.access_token)
    try:
        depth = 100_000
        ws.send('42["ping",' + "[" * depth + "]" * depth + "]")
        ws.send('42["ping",{"client_ts":7}]')
        frames = []
        while not any(frame.startswith('42["pong"') for frame in frames):
            frames.append(ws.recv())
    finally:
        ws.close()
    [pong] = [json.loads(frame[2:])[1] for frame in frames if frame.startswith('42["pong"')]
    assert pong["client_ts"] == 7


def test_a_burst_is_rate_limited_and_counted(
    servers: Servers, accounts: Accounts, clients: Clients
) -> None:
    admin = accounts.login(servers.tight, "admin")
    user = accounts.login(servers.tight)
    client = clients.connect(servers.tight, user.access_token)
    before = local_stats(servers.tight, admin.headers)["rate_limited"]

    acks = [client.call("ping", {"client_ts": float(i)}) for i in range(BURST + 3)]

    assert [ack["ok"] for ack in acks] == [True] * BURST + [False] * 3
    assert {ack["error"]["code"] for ack in acks[BURST:]} == {"rate_limited"}
    assert client.payloads("error") == [ack["error"] for ack in acks[BURST:]]
    assert local_stats(servers.tight, admin.headers)["rate_limited"] == before + 3
    assert client.sio.connected


def test_a_flooding_client_is_disconnected(
    servers: Servers, accounts: Accounts, clients: Clients
) -> None:
    admin = accounts.login(servers.tight, "admin")
    user = accounts.login(servers.tight)
    client = clients.connect(servers.tight, user.access_token)
    floods = local_stats(servers.tight, admin.headers)["flood_disconnects"]
    rejections = int(TIGHT["WS_FLOOD_MAX_REJECTIONS"])

    for i in range(BURST + rejections):
        client.sio.emit("ping", {"client_ts": float(i)})

    assert client.disconnected.wait(WAIT_SECONDS), client.names()
    assert client.names().count("pong") == BURST, client.record
    assert [error["code"] for error in client.payloads("error")] == ["rate_limited"] * rejections
    assert client.names()[-1] == "disconnect"
    assert local_stats(servers.tight, admin.headers)["flood_disconnects"] == floods + 1


def short_lived_socket(
    servers: Servers, platform: Platform, accounts: Accounts, clients: Clients
) -> tuple[RecordingClient, str, float]:
    """A socket on the tight server whose access token expires in a few seconds; returns it
    with a fresh (long) token of the same session and the short token's expiry."""
    user = accounts.login(servers.tight)
    short = forge_access_token(platform.jwt_secret, user.user_id, user.session_id, TOKEN_SECONDS)
    client = clients.connect(servers.tight, short)
    expires_at = client.payloads("connection_response")[0]["token_expires_at"]
    return client, user.access_token, expires_at


def test_an_expiring_token_is_warned_then_the_socket_disconnected(
    servers: Servers, platform: Platform, accounts: Accounts, clients: Clients
) -> None:
    client, _, expires_at = short_lived_socket(servers, platform, accounts, clients)

    warning = client.wait_for("token_expiring")
    assert client.disconnected.wait(TOKEN_SECONDS + WAIT_SECONDS), client.names()

    assert warning["expires_at"] == expires_at
    assert 0 <= warning["seconds_left"] <= int(TIGHT["WS_TOKEN_WARNING_SECONDS"])
    assert time.time() >= expires_at + int(TIGHT["WS_TOKEN_GRACE_SECONDS"]) - 0.5
    assert client.names()[-3:] == ["token_expiring", "error", "disconnect"]
    assert client.payloads("error")[0]["code"] == "token_expired"


def test_a_fresh_token_keeps_the_socket_connected(
    servers: Servers, platform: Platform, accounts: Accounts, clients: Clients
) -> None:
    client, fresh, expires_at = short_lived_socket(servers, platform, accounts, clients)
    client.wait_for("token_expiring")

    ack = client.call("update_token", {"token": fresh})

    assert ack["ok"] is True and ack["expires_at"] > expires_at + 60
    grace_over = expires_at + int(TIGHT["WS_TOKEN_GRACE_SECONDS"]) + 1.0
    assert not client.disconnected.wait(max(0.0, grace_over - time.time()))
    client.settle()
    assert client.payloads("token_updated") == [{"expires_at": ack["expires_at"]}]
    assert "error" not in client.names()


def test_reconnecting_does_not_refill_the_users_event_budget(
    servers: Servers, accounts: Accounts
) -> None:
    """A connection's own burst is 5 pings; the user's, kept in Redis, 15. Reconnecting for
    a fresh connection budget each time must not get past the user's. (4 pings a
    connection: 5 refusals would be a flood.)"""
    user = accounts.login(servers.tight)
    accepted = 0
    started = time.monotonic()
    for _ in range(10):
        client = RecordingClient().connect(servers.tight, user.access_token)
        accepted += sum(
            client.call("ping", {"client_ts": float(i)})["ok"] is True for i in range(BURST - 1)
        )
        client.close()
    refilled = 0.2 * 3 * (time.monotonic() - started)  # the user's rate: 0.6/s
    user_burst = BURST * 3  # WS_USER_RATE_MULTIPLIER
    assert user_burst <= accepted <= user_burst + refilled + 1


def test_connecting_faster_than_the_users_budget_is_refused(
    servers: Servers, accounts: Accounts, clients: Clients
) -> None:
    """25 connects of one user, held open (closing takes longer than connecting) over three
    sessions to stay under the connection caps: the burst of WS_CONNECT_RATE_PER_USER is
    20, then one per 2 s."""
    username = accounts.create()
    sessions = [login(servers.a, username, TEST_PASSWORD) for _ in range(3)]
    outcomes = []
    started = time.monotonic()
    for i in range(25):
        client = clients.open()
        try:
            client.connect(servers.a, sessions[i % 3].access_token)
            outcomes.append("connected")
        except socketio.exceptions.ConnectionError:
            outcomes.append(client.payloads("connect_error")[0]["message"])
    refilled = 0.5 * (time.monotonic() - started)
    assert outcomes[:20] == ["connected"] * 20
    assert outcomes.count("connected") <= 20 + refilled + 1
    assert set(outcomes[20:]) <= {"connected", "rate_limited"} and "rate_limited" in outcomes


def test_a_sessions_open_sockets_are_capped(
    servers: Servers, accounts: Accounts, clients: Clients
) -> None:
    user = accounts.login(servers.a)
    held = [clients.connect(server, user.access_token) for server in (servers.a, servers.b) * 5]
    over = RecordingClient()

    with pytest.raises(socketio.exceptions.ConnectionError):
        over.sio.connect(
            servers.b.url,
            auth={"token": user.access_token},
            transports=["websocket"],
            wait_timeout=WAIT_SECONDS,
        )

    assert over.payloads("connect_error") == [{"message": "too_many_connections"}]
    over.close()
    held[0].close()
    assert held[0].disconnected.wait(WAIT_SECONDS)
    wait_for(
        lambda: RecordingClient().connect(servers.b, user.access_token).close() or True,
        WAIT_SECONDS,
        "a place freed by a closed socket",
    )
