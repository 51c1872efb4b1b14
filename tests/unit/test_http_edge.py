"""The HTTP edge in process: connection counting, refusal responses, security headers, the
health probe cache and its detail rule, the Socket.IO authentication deadline. The same
rules against real servers: tests/e2e/test_http_edge.py."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from app.config import ConfigError, load_config
from app.extensions import db
from app.models import UserSession
from app.realtime.auth_deadline import AuthDeadline
from app.services.dependency_health import ProbeCache
from app.services.risk.enforcement import apply_decision
from app.serving.headers import content_security_policy
from app.serving.limits import AddressLimiter
from app.serving.responses import error_bytes, too_many_connections
from tests.conftest import app_in_context, make_user, sign_in
from tests.e2e.raw_http import parse_response
from tests.risk_support import assessment_for

CLOSED_BROKER = "amqp://guest:guest@127.0.0.1:9//"  # port 9 (discard): nothing listens


def test_the_address_limit_counts_open_connections_and_gives_slots_back() -> None:
    limiter = AddressLimiter(2)

    assert [limiter.acquire("10.0.0.1") for _ in range(3)] == [True, True, False]
    assert limiter.acquire("10.0.0.2")
    limiter.release("10.0.0.1")
    assert limiter.acquire("10.0.0.1")
    assert limiter.refused == 1
    assert limiter.open_from("10.0.0.1") == 2


def test_an_address_limit_of_zero_counts_without_limiting() -> None:
    limiter = AddressLimiter(0)

    assert all(limiter.acquire("127.0.0.1") for _ in range(5000))
    assert limiter.open_from("127.0.0.1") == 5000


@pytest.mark.parametrize(
    "name",
    ["HTTP_HEADER_TIMEOUT_SECONDS", "WS_AUTH_TIMEOUT_SECONDS", "MAX_CONNECTIONS_PER_ADDRESS"],
)
@pytest.mark.parametrize("value", ["-1", "ten"])
def test_a_malformed_edge_setting_is_refused_with_its_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config({"APP_ENV": "testing", name: value})


def test_edge_defaults() -> None:
    config = load_config({"APP_ENV": "testing"})

    assert config["HTTP_HEADER_TIMEOUT_SECONDS"] == 10
    assert config["MAX_CONNECTIONS_PER_ADDRESS"] == 1000
    assert config["WS_AUTH_TIMEOUT_SECONDS"] == 5
    assert config["HEALTH_CACHE_SECONDS"] == 5
    assert config["PROXY_FIX_X_PROTO"] == 0


@pytest.mark.parametrize(("status", "code"), [(400, "bad_request"), (414, "request_uri_too_long")])
def test_a_refusal_before_the_app_is_the_json_envelope(status: int, code: str) -> None:
    response = parse_response(error_bytes(status))

    assert response.status == status
    assert response.json() == {
        "error": {"code": code, "message": response.json()["error"]["message"], "details": None}
    }
    assert int(response.headers["content-length"]) == len(response.body)
    assert response.headers["connection"] == "close"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_too_many_connections_says_so_and_when_to_retry() -> None:
    response = parse_response(too_many_connections(7))

    assert response.status == 503
    assert response.json()["error"]["code"] == "too_many_connections"
    assert "7" in response.json()["error"]["message"]
    assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("host", "connect"),
    [
        ("dash.example:8443", "connect-src 'self' ws://dash.example:8443 wss://dash.example:8443"),
        ("[::1]:5000", "connect-src 'self' ws://[::1]:5000 wss://[::1]:5000"),
        ("evil.example; script-src *", "connect-src 'self'"),
        (None, "connect-src 'self'"),
    ],
)
def test_the_policy_names_only_a_plain_host(host: str | None, connect: str) -> None:
    policy = content_security_policy(host)

    assert policy.endswith(connect)
    assert "script-src 'self';" in policy


def test_api_responses_carry_the_security_headers_and_are_not_stored(client: FlaskClient) -> None:
    for response in (client.get("/api/health"), client.get("/api/nope")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in response.headers


def test_outside_the_api_nothing_forbids_caching(client: FlaskClient) -> None:
    response = client.get("/nope")

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Cache-Control" not in response.headers


def test_hsts_is_sent_over_tls_only(client: FlaskClient) -> None:
    over_tls = client.get("/api/health", base_url="https://localhost")
    spoofed = client.get("/api/health", headers={"X-Forwarded-Proto": "https"})

    assert over_tls.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in spoofed.headers  # no proxy is trusted


def test_a_trusted_proxy_saying_https_gets_hsts(base_config: dict[str, Any]) -> None:
    with app_in_context({**base_config, "PROXY_FIX_X_PROTO": 1}) as app:
        response = app.test_client().get("/api/health", headers={"X-Forwarded-Proto": "https"})

    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_concurrent_callers_share_one_probe() -> None:
    cache = ProbeCache()
    release = threading.Event()
    calls = []

    def probe() -> dict[str, Any]:
        calls.append(1)
        release.wait(5)
        return {"status": "ok"}

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [pool.submit(cache.get, 60, probe) for _ in range(8)]
        release.set()
        answers = [result.result(timeout=5) for result in results]

    assert calls == [1]
    assert answers == [{"status": "ok"}] * 8


def test_a_probe_older_than_its_age_is_taken_again() -> None:
    cache = ProbeCache()
    statuses = iter([{"n": 1}, {"n": 2}])

    assert cache.get(60, lambda: next(statuses)) == {"n": 1}
    assert cache.get(60, lambda: next(statuses)) == {"n": 1}
    assert cache.get(0, lambda: next(statuses)) == {"n": 2}


@pytest.fixture
def broken_broker_app(base_config: dict[str, Any]) -> Iterator[Flask]:
    with app_in_context({**base_config, "CELERY_BROKER_URL": CLOSED_BROKER}) as app:
        yield app


def test_why_a_dependency_is_down_is_for_admins_only(broken_broker_app: Flask) -> None:
    client = broken_broker_app.test_client()
    admin = sign_in(client, make_user("admin"))
    user = sign_in(client, make_user("user"))

    for_admin = client.get("/api/health", headers=admin.headers).get_json()
    for_user = client.get("/api/health", headers=user.headers).get_json()
    anonymous = client.get("/api/health").get_json()
    bad_token = client.get("/api/health", headers={"Authorization": "Bearer nope"})

    assert for_admin["checks"]["broker"]["ok"] is False
    assert "refused" in for_admin["checks"]["broker"]["error"].lower()
    for body in (for_user, anonymous, bad_token.get_json()):
        assert body["status"] == "degraded"
        assert body["checks"]["broker"] == {
            "ok": False,
            "latency_ms": body["checks"]["broker"]["latency_ms"],
        }
        assert "error" not in json.dumps(body)
    assert bad_token.status_code == 200


def test_health_answers_an_admin_token_while_the_database_is_down(
    broken_broker_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking the token needs the database; with it down, health still answers (without
    details) rather than failing with a 500."""
    client = broken_broker_app.test_client()
    admin = sign_in(client, make_user("admin"))

    def database_down(token: str) -> Any:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr("app.api.health.authenticate", database_down)
    response = client.get("/api/health", headers=admin.headers)

    assert response.status_code == 200
    assert response.get_json()["status"] == "degraded"
    assert "error" not in json.dumps(response.get_json())


def test_an_admin_session_in_step_up_gets_no_details(broken_broker_app: Flask) -> None:
    client = broken_broker_app.test_client()
    admin = sign_in(client, make_user("admin"))
    session = db.session.get(UserSession, uuid.UUID(admin.session_id))
    assert apply_decision(session, assessment_for(session, 70), "step_up").applied

    body = client.get("/api/health", headers=admin.headers).get_json()

    assert body["checks"]["broker"]["ok"] is False
    assert "error" not in json.dumps(body)


class _FakeEngineIO:
    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}
        self.disconnected: list[str] = []

    def on(self, event: str, handler: Any) -> None:
        self.handlers[event] = handler

    def disconnect(self, sid: str) -> None:
        self.disconnected.append(sid)
        self.handlers["disconnect"](sid, "server disconnect")


class _FakeManager:
    def __init__(self) -> None:
        self.connected: set[str] = set()

    def sid_from_eio_sid(self, eio_sid: str, namespace: str) -> str | None:
        return f"sio-{eio_sid}" if eio_sid in self.connected else None


class _FakeSocketIOServer:
    """What AuthDeadline uses of python-socketio's Server; tasks run at once."""

    def __init__(self) -> None:
        self.eio = _FakeEngineIO()
        self.manager = _FakeManager()
        self.seen: list[tuple[str, Any]] = []
        self.loops: list[Any] = []
        for event in ("connect", "message", "disconnect"):
            self.eio.on(event, lambda sid, *args, event=event: self.seen.append((event, sid)))

    def start_background_task(self, target: Any, *args: Any) -> None:
        if args:
            target(*args)
        else:
            self.loops.append(target)


def test_transports_without_a_socketio_connect_in_time_are_closed_and_counted() -> None:
    server = _FakeSocketIOServer()
    deadline = AuthDeadline()
    deadline.install(server, timeout=5)
    for sid in ("a", "b", "c"):
        server.eio.handlers["connect"](sid, {})
    server.manager.connected.add("b")
    server.eio.handlers["message"]("b", '0{"token":"t"}')  # accepted Socket.IO connect

    assert deadline.pending() == 2
    assert deadline.sweep(now=0) == 0  # nobody is late yet
    closed = deadline.sweep(now=float("inf"))

    assert closed == 2
    assert server.eio.disconnected == ["a", "c"]
    assert deadline.pending() == 0 and deadline.closed == 2
    assert ("message", "b") in server.seen and ("disconnect", "a") in server.seen
    assert len(server.loops) == 1  # one sweeper for the process


def test_a_transport_that_leaves_before_its_deadline_is_no_longer_pending() -> None:
    server = _FakeSocketIOServer()
    deadline = AuthDeadline()
    deadline.install(server, timeout=5)
    server.eio.handlers["connect"]("a", {})
    server.eio.handlers["disconnect"]("a", "client disconnect")

    assert deadline.pending() == 0
    assert deadline.sweep(now=float("inf")) == 0
