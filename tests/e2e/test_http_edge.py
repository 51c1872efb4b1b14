"""The HTTP edge of a real web process (eventlet and gevent) against an unauthenticated
client: stalled headers, connections per address, Socket.IO transports that never
authenticate, the health probe, security headers and malformed requests.

The attacker connects from 127.0.0.2 (the kernel routes all of 127/8 to loopback), the
test's own requests from 127.0.0.1, so the per-address limit visibly applies to the
attacker only. The server's pool is small (WS_MAX_CONNECTIONS), so connections that are
held without limit would exhaust it and take /api/health down.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import websocket

from tests.e2e.clients import WAIT_SECONDS, realtime_stats
from tests.e2e.conftest import ASYNC_MODES, Accounts, Clients, Platform
from tests.e2e.raw_http import connect, exchange, parse_response, read_until_closed
from tests.e2e.servers import WebServer, start_servers, web_settings
from tests.procs import wait_for
from tests.services import RABBITMQ_TEST_URL, require
from tests.tcp_forwarder import CountingForwarder

pytestmark = pytest.mark.integration
ATTACKER = "127.0.0.2"
HEADER_TIMEOUT = 2
AUTH_TIMEOUT = 3
PER_ADDRESS = 100
EDGE = {
    "WS_MAX_CONNECTIONS": 300,
    "HTTP_HEADER_TIMEOUT_SECONDS": HEADER_TIMEOUT,
    "MAX_CONNECTIONS_PER_ADDRESS": PER_ADDRESS,
    "WS_AUTH_TIMEOUT_SECONDS": AUTH_TIMEOUT,
    "HEALTH_CACHE_SECONDS": 2,
    "PROXY_FIX_X_PROTO": 1,
}
PARTIAL_HEADER = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


@pytest.fixture(scope="module")
def broker() -> Iterator[CountingForwarder]:
    """RabbitMQ through a forwarder that counts the server's broker connections."""
    parts = urlsplit(RABBITMQ_TEST_URL)
    require("RabbitMQ", parts.hostname or "127.0.0.1", parts.port or 5672)
    with CountingForwarder(parts.port or 5672, parts.hostname or "127.0.0.1") as forwarder:
        yield forwarder


@pytest.fixture(scope="module", params=ASYNC_MODES)
def server(
    request: pytest.FixtureRequest, platform: Platform, broker: CountingForwarder
) -> Iterator[WebServer]:
    mode = request.param
    parts = urlsplit(RABBITMQ_TEST_URL)
    broker_url = parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{broker.port}")
    settings = web_settings(
        platform.database_url,
        platform.redis_url,
        platform.jwt_secret,
        mode,
        CELERY_BROKER_URL=broker_url.geturl(),
        **EDGE,
    )
    [web] = start_servers(platform.log_dir, **{f"{mode}-edge": settings})
    yield web
    web.stop()


def wait_closed_by_server(ws: websocket.WebSocket) -> None:
    """Read until the server's close frame (websocket-client answers it and returns "");
    WebSocketTimeoutException if it does not come within the socket's timeout."""
    with contextlib.suppress(websocket.WebSocketConnectionClosedException):
        while ws.recv() != "":
            pass


def test_stalled_partial_headers_neither_hold_the_server_nor_stay_open(server: WebServer) -> None:
    stalled = []
    try:
        for _ in range(2000):
            sock = connect(server.port, ATTACKER)
            sock.sendall(PARTIAL_HEADER)
            stalled.append(sock)
        started = time.monotonic()
        health = requests.get(f"{server.url}/api/health", timeout=5)
        answered_in = time.monotonic() - started

        received, still_open = read_until_closed(stalled, timeout=HEADER_TIMEOUT + 15)

        assert health.status_code == 200
        assert answered_in < 3, f"/api/health took {answered_in:.1f} s under the attack"
        assert not still_open, f"{len(still_open)} stalled connections still open"
        refusals = [parse_response(data) for data in received.values() if data]
        assert len(refusals) >= 2000 - PER_ADDRESS
        assert {r.status for r in refusals} == {503}
        assert {r.json()["error"]["code"] for r in refusals} == {"too_many_connections"}
    finally:
        for sock in stalled:
            sock.close()
    # The attacker's address is served again once its connections are gone.
    again = parse_response(
        exchange(server.port, b"GET /api/health HTTP/1.1\r\nConnection: close\r\n\r\n", ATTACKER)
    )
    assert again.status == 200


def test_a_trickled_header_is_cut_off_at_the_deadline(server: WebServer) -> None:
    """Bytes arriving now and then do not extend the deadline: it is for the whole header."""
    with connect(server.port, ATTACKER) as sock:
        sock.sendall(PARTIAL_HEADER)
        opened = time.monotonic()
        sock.settimeout(0.5)
        closed = False
        while time.monotonic() - opened < HEADER_TIMEOUT + 10:
            try:
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                sock.sendall(b"x")
            except ConnectionResetError:
                closed = True
                break
        lasted = time.monotonic() - opened
    assert closed, "a header trickling in byte by byte was never cut off"
    assert HEADER_TIMEOUT - 0.5 <= lasted < HEADER_TIMEOUT + 3


def test_transports_that_never_authenticate_are_counted_then_closed(
    server: WebServer, accounts: Accounts, clients: Clients
) -> None:
    admin = accounts.login(server, "admin")
    member = clients.connect(server, accounts.login(server).access_token)
    closed_before = realtime_stats(server, admin.headers)["auth_timeouts"]
    ws_url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    sockets = [websocket.create_connection(ws_url, timeout=WAIT_SECONDS) for _ in range(40)]
    polling = requests.get(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=5)
    poll_sid = json.loads(polling.text[1:])["sid"]
    try:
        assert all(ws.recv().startswith("0") for ws in sockets)  # Engine.IO open, then silence
        pending = realtime_stats(server, admin.headers)["unauthenticated_transports"]
        assert pending == len(sockets) + 1

        for ws in sockets:
            ws.settimeout(AUTH_TIMEOUT + 10)
            wait_closed_by_server(ws)

        def counted() -> dict[str, Any] | None:
            stats = realtime_stats(server, admin.headers)
            return stats if stats["unauthenticated_transports"] == 0 else None

        stats = wait_for(counted, AUTH_TIMEOUT + 10, "no pending transport left")
        assert stats["auth_timeouts"] == closed_before + len(sockets) + 1
        gone = requests.get(
            f"{server.url}/socket.io/?EIO=4&transport=polling&sid={poll_sid}", timeout=5
        )
        assert gone.status_code == 400
        assert member.call("ping", {"client_ts": 1.0})["ok"] is True  # authenticated: kept
    finally:
        for ws in sockets:
            ws.close()


def test_a_burst_of_health_requests_costs_one_dependency_probe(
    server: WebServer, broker: CountingForwarder
) -> None:
    before = broker.accepted
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(lambda _: requests.get(f"{server.url}/api/health", timeout=10), range(60))
        )

    assert {answer.status_code for answer in answers} == {200}
    # One probe, or two when the cached one expires during the burst.
    assert broker.accepted - before <= 2, "a broker connection per health request"


def test_why_a_dependency_is_down_is_shown_to_admins_only(
    server: WebServer, broker: CountingForwarder, accounts: Accounts
) -> None:
    admin = accounts.login(server, "admin")
    user = accounts.login(server)
    broker.refusing = True
    try:

        def degraded() -> dict[str, Any] | None:
            body = requests.get(f"{server.url}/api/health", headers=admin.headers, timeout=10)
            return body.json() if body.json()["status"] == "degraded" else None

        for_admin = wait_for(degraded, 20, "the broker reported down")
        anonymous = requests.get(f"{server.url}/api/health", timeout=10).json()
        for_user = requests.get(f"{server.url}/api/health", headers=user.headers, timeout=10)
    finally:
        broker.refusing = False

    assert for_admin["checks"]["broker"]["ok"] is False
    assert for_admin["checks"]["broker"]["error"]
    for body in (anonymous, for_user.json()):
        assert body["status"] == "degraded"
        assert body["checks"]["broker"]["ok"] is False
        assert "error" not in json.dumps(body["checks"])
        assert body["checks"]["database"]["ok"] is True


def test_every_response_carries_the_security_headers(server: WebServer) -> None:
    api = requests.get(f"{server.url}/api/health", timeout=5)
    polling = requests.get(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=5)
    missing = requests.get(f"{server.url}/no-such-page", timeout=5)
    over_tls_proxy = requests.get(
        f"{server.url}/api/health", headers={"X-Forwarded-Proto": "https"}, timeout=5
    )

    for response in (api, polling, missing, over_tls_proxy):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp
    for response in (api, polling):
        assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in api.headers
    assert over_tls_proxy.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400),
    ],
    ids=["garbage", "over-long-line", "negative-length"],
)
def test_a_malformed_request_gets_the_json_error_envelope(
    server: WebServer, request_bytes: bytes, status: int
) -> None:
    response = parse_response(exchange(server.port, request_bytes, ATTACKER))

    assert response.status == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert b"GARBAGE" not in response.body and b"aaaa" not in response.body
