"""Attacks on the Socket.IO server of real web processes, and what must hold against them.

A demoted admin's open socket, a logout racing connects, binary attachments, malformed
packets from a socket that never authenticated, a forged Host header, and probing other
users' session ids.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
import requests
import socketio
import websocket
from flask import Flask

from app.realtime.emit import emit_to_admins
from tests.conftest import SignedIn
from tests.e2e.clients import WAIT_SECONDS, RecordingClient, raw_socket
from tests.e2e.conftest import Accounts, Clients, Platform, Servers
from tests.e2e.servers import WebServer
from tests.procs import wait_for
from tests.unit.sockets import telemetry_batch

pytestmark = pytest.mark.integration


def admin_stats(server: WebServer, admin: SignedIn) -> dict[str, Any]:
    response = requests.get(
        f"{server.url}/api/admin/realtime/stats", headers=admin.headers, timeout=WAIT_SECONDS
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def set_role(server: WebServer, admin: SignedIn, user_id: int, role: str) -> None:
    response = requests.patch(
        f"{server.url}/api/admin/users/{user_id}",
        json={"role": role},
        headers=admin.headers,
        timeout=WAIT_SECONDS,
    )
    assert response.status_code == 200, response.text


def test_a_demoted_admin_loses_the_admin_room_on_every_process(
    servers: Servers, worker: Flask, accounts: Accounts, clients: Clients
) -> None:
    boss = accounts.login(servers.a, "admin")
    demoted = accounts.login(servers.a, "admin")
    on_b = clients.connect(servers.b, demoted.access_token)
    assert on_b.call("join_admin_room", {})["ok"] is True
    assert on_b.call("subscribe_network_topology", {})["ok"] is True

    set_role(servers.a, boss, demoted.user_id, "user")
    with worker.app_context():
        emit_to_admins("admin_notification", {"kind": "probe", "title": "t", "summary": "s"})

    assert on_b.disconnected.wait(WAIT_SECONDS), on_b.names()
    assert on_b.payloads("admin_notification", lambda data: data["kind"] == "probe") == []
    [notice] = on_b.payloads("error")
    assert notice["code"] == "role_changed"
    again = clients.connect(servers.b, demoted.access_token)  # the same, still valid token
    ack = again.call("join_admin_room", {})
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    topology = again.call("subscribe_network_topology", {})
    assert topology["ok"] is True and topology["room"] == f"topology:user:{demoted.user_id}"


def connect_quietly(client: RecordingClient, server: WebServer, token: str) -> None:
    with contextlib.suppress(socketio.exceptions.ConnectionError):  # refused: fine
        client.sio.connect(
            server.url, auth={"token": token}, transports=["websocket"], wait_timeout=WAIT_SECONDS
        )


def acting_sockets_after_a_racing_logout(server: WebServer, user: SignedIn, count: int) -> int:
    """Connect ``count`` sockets of the user's session while it signs out; return how many
    can still act once the logout has answered."""
    sockets = [RecordingClient() for _ in range(count)]
    started = threading.Barrier(count + 1)

    def connect(client: RecordingClient) -> None:
        started.wait()
        connect_quietly(client, server, user.access_token)

    with ThreadPoolExecutor(count) as pool:
        connecting = [pool.submit(connect, client) for client in sockets]
        started.wait()
        # Sign out once the server is answering the connects, with more of them in flight.
        wait_for(
            lambda: any(client.payloads("connection_response") for client in sockets),
            WAIT_SECONDS,
            "a first socket connected",
            poll=0.001,
        )
        response = requests.post(
            f"{server.url}/api/auth/logout", headers=user.headers, timeout=WAIT_SECONDS
        )
        assert response.status_code == 200, response.text
        for future in connecting:
            future.result()
        acting = sum(pool.map(lambda client: can_act(client, user), sockets))
        list(pool.map(RecordingClient.close, sockets))
    return acting


def can_act(client: RecordingClient, user: SignedIn) -> bool:
    """Whether the socket is still served and may send telemetry or join the user's room."""
    if not client.sio.connected:
        return False
    try:
        acks = [
            client.sio.call("behavioral_data", telemetry_batch(user.session_id), timeout=5),
            client.sio.call("join_user_room", {"user_id": user.user_id}, timeout=5),
        ]
    except socketio.exceptions.SocketIOError:
        return False  # disconnected, or no longer known to the server
    return any(ack["ok"] for ack in acks)


def test_a_socket_connecting_during_its_logout_cannot_act(
    servers: Servers, accounts: Accounts
) -> None:
    """200 sockets, in rounds of 20 on one session each, connect while the session signs
    out: once the logout has answered, none may send telemetry or join its room."""
    acting = [
        acting_sockets_after_a_racing_logout(servers.a, accounts.login(servers.a), 20)
        for _ in range(10)
    ]
    assert acting == [0] * 10


def test_a_socket_its_logout_did_not_find_is_dropped(
    servers: Servers, platform: Platform, accounts: Accounts, clients: Clients
) -> None:
    """What losing the race leaves behind, made certain: a socket that registered after the
    logout read the session's sockets (here: taken out of that set) must not act on."""
    user = accounts.login(servers.a)
    late = clients.connect(servers.b, user.access_token)
    [hello] = late.payloads("connection_response")
    sockets_of_session = f"zt:ws:sess:{user.session_id}"
    assert redis.Redis.from_url(platform.redis_url).srem(sockets_of_session, hello["sid"]) == 1

    response = requests.post(
        f"{servers.a.url}/api/auth/logout", headers=user.headers, timeout=WAIT_SECONDS
    )

    assert response.status_code == 200, response.text
    assert late.disconnected.wait(WAIT_SECONDS), late.names()
    assert [error["code"] for error in late.payloads("error")] == ["unauthorized"]


def test_binary_attachments_are_refused_and_the_socket_closed(
    servers: Servers, accounts: Accounts, clients: Clients
) -> None:
    user = accounts.login(servers.a)
    ws = raw_socket(servers.a, user.access_token)
    frames: list[Any] = []
    try:
        ws.send('45999999-["behavioral_data",{"_placeholder":true,"num":0}]')
        while True:  # old servers wait here for the attachments (a timeout fails the test)
            opcode, data = ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            frames.append(data)
    finally:
        ws.close()
    errors = [json.loads(f[2:])[1] for f in frames if f.startswith(b'42["error"')]
    assert errors and errors[0]["code"] == "invalid_payload", frames
    other = clients.connect(servers.a, accounts.login(servers.a).access_token)
    assert other.call("ping", {"client_ts": 1.0})["ok"] is True


def test_malformed_packets_before_authenticating_are_logged_briefly_and_counted(
    servers: Servers, accounts: Accounts, clients: Clients
) -> None:
    admin = accounts.login(servers.b, "admin")
    errors_before = admin_stats(servers.b, admin)["errors"]
    log_before = servers.b.log_path.stat().st_size
    packets = ['42["ping",{', "4x", "4" + "9" * 120, '47["ping"]']
    ws = raw_socket(servers.b)
    try:
        for i in range(200):
            ws.send(packets[i % len(packets)])
        wait_for(
            lambda: admin_stats(servers.b, admin)["errors"] >= errors_before + 200,
            WAIT_SECONDS,
            "200 malformed packets counted as errors",
        )
    finally:
        ws.close()
    logged = servers.b.log_path.read_bytes()[log_before:].decode(errors="replace")
    assert "Traceback" not in logged
    assert len(logged) < 4096, logged[:2000]
    assert clients.connect(servers.b, admin.access_token).call("ping", {"client_ts": 1.0})["ok"]


def test_an_origin_vouched_for_only_by_the_host_header_is_refused(servers: Servers) -> None:
    url = servers.a.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            url, host="evil.example", origin="http://evil.example", timeout=WAIT_SECONDS
        )

    assert refused.value.status_code == 400
    dashboard = websocket.create_connection(url, origin=servers.a.url, timeout=WAIT_SECONDS)
    try:
        assert dashboard.recv().startswith("0")  # the dashboard's own origin (PORT) is listed
    finally:
        dashboard.close()


def test_another_users_session_id_answers_as_an_unknown_one(
    servers: Servers, accounts: Accounts, clients: Clients
) -> None:
    owner = accounts.login(servers.a)
    prober = accounts.login(servers.a)
    unknown = str(uuid.uuid4())

    for method in ("GET", "DELETE"):
        answers = [
            requests.request(
                method,
                f"{servers.a.url}/api/sessions/{session_id}",
                headers=prober.headers,
                timeout=WAIT_SECONDS,
            )
            for session_id in (owner.session_id, unknown)
        ]
        assert [r.status_code for r in answers] == [404, 404]
        assert answers[0].json() == answers[1].json()
    socket = clients.connect(servers.a, prober.access_token)
    acks = [
        socket.call("subscribe_risk_score", {"user_id": owner.user_id, "session_id": session_id})
        for session_id in (owner.session_id, unknown)
    ]
    assert acks[0] == acks[1] and acks[0]["error"]["code"] == "not_found"
    me = requests.get(f"{servers.a.url}/api/auth/me", headers=owner.headers, timeout=WAIT_SECONDS)
    assert me.status_code == 200
