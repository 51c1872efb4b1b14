"""Two web processes sharing the Redis message queue, and a worker that only emits.

An emit from a worker reaches clients of both processes; ending a session through one
process (or from a worker) disconnects its sockets on the others, within a second and
after `session_terminated`; each process's stats cover the whole cluster.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import pytest
import requests
from flask import Flask

from app.extensions import db
from app.models import UserSession
from app.realtime.emit import emit_to_user
from app.services.session_service import end_session
from tests.e2e.clients import WAIT_SECONDS
from tests.e2e.conftest import Accounts, Clients, Servers
from tests.procs import wait_for

pytestmark = pytest.mark.integration


def test_a_worker_emit_reaches_clients_on_both_processes(
    servers: Servers, worker: Flask, accounts: Accounts, clients: Clients
) -> None:
    user = accounts.login(servers.a)
    on_a = clients.connect(servers.a, user.access_token)
    on_b = clients.connect(servers.b, user.access_token)
    for client in (on_a, on_b):
        assert client.call("join_user_room", {"user_id": user.user_id})["ok"] is True
    marker = secrets.token_hex(8)

    with worker.app_context():
        offset = emit_to_user(user.user_id, "notification", {"marker": marker})

    expected = {"marker": marker, "_meta": {"room": f"user:{user.user_id}", "offset": offset}}
    for client in (on_a, on_b):
        assert client.wait_for("notification", lambda data: data.get("marker") == marker) == (
            expected
        )


def test_ending_a_session_on_one_process_disconnects_its_socket_on_the_other(
    servers: Servers, accounts: Accounts, clients: Clients
) -> None:
    user = accounts.login(servers.a)
    other_session = accounts.login(servers.a)  # another user, unaffected
    on_b = clients.connect(servers.b, user.access_token)
    bystander = clients.connect(servers.b, other_session.access_token)

    response = requests.delete(
        f"{servers.a.url}/api/sessions/{user.session_id}", headers=user.headers, timeout=10
    )
    ended_at = time.monotonic()

    assert response.status_code == 200, response.text
    assert on_b.disconnected.wait(1.0), f"still connected after 1 s: {on_b.names()}"
    assert time.monotonic() - ended_at <= 1.0
    names = on_b.names()
    assert names.index("session_terminated") < names.index("disconnect")
    [notice] = on_b.payloads("session_terminated")
    assert notice["session_id"] == user.session_id and notice["reason"] == "terminated_by_user"
    bystander.settle()
    assert "disconnect" not in bystander.names()


def test_a_worker_ending_a_session_disconnects_its_sockets_on_every_process(
    servers: Servers, worker: Flask, accounts: Accounts, clients: Clients
) -> None:
    user = accounts.login(servers.a)
    sockets = [clients.connect(server, user.access_token) for server in (servers.a, servers.b)]

    with worker.app_context():
        session = db.session.get(UserSession, uuid.UUID(user.session_id))
        end_session(session, status="terminated", reason="risk_too_high", actor_id=None)
        db.session.commit()

    for socket in sockets:
        assert socket.disconnected.wait(WAIT_SECONDS), socket.names()
        [notice] = socket.payloads("session_terminated")
        assert notice["reason"] == "risk_too_high"


def _stats(url: str, admin_headers: dict[str, str]) -> dict[str, Any]:
    response = requests.get(f"{url}/api/admin/realtime/stats", headers=admin_headers, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_stats_on_either_process_cover_both(
    servers: Servers, accounts: Accounts, clients: Clients
) -> None:
    admin = accounts.login(servers.a, "admin")
    users = [accounts.login(servers.a) for _ in range(3)]
    clients.connect(servers.a, users[0].access_token)
    for user in users[1:]:
        clients.connect(servers.b, user.access_token)
    process_a = _stats(servers.a.url, admin.headers)["process_id"]
    process_b = _stats(servers.b.url, admin.headers)["process_id"]

    def covers_both(url: str) -> bool:
        cluster = _stats(url, admin.headers)["cluster"]
        per_process = cluster["per_process"]
        return (
            per_process.get(process_a, {}).get("total_connections") == 1
            and per_process.get(process_b, {}).get("total_connections") == 2
        )

    for server in (servers.a, servers.b):
        wait_for(lambda url=server.url: covers_both(url), WAIT_SECONDS, f"stats of {server}")
    cluster = _stats(servers.b.url, admin.headers)["cluster"]
    assert cluster["processes"] >= 2
    assert cluster["total_connections"] >= 3 and cluster["unique_users"] >= 3
    assert cluster["per_process"][process_a]["events_received_total"] >= 0
