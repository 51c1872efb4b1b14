"""Smart lockout, the global budget of unfamiliar sources, failing closed without Redis,
and what the audit trail records of sign-in (in-process; the attacks against a real
server are in tests/integration/test_sign_in_attacks.py)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import AuditEvent, LoginAttempt
from app.services.audit import refusals
from tests.checks import assert_error
from tests.conftest import TEST_PASSWORD, SignedIn, app_in_context, make_user
from tests.procs import free_port


class FakeClock:
    """Stands in for the ``time`` module of app.services.audit.refusals."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


OWNER_IP, ATTACKER_IP, NEW_IP = "10.1.0.5", "10.9.9.9", "10.1.0.77"
DEVICE = "owner-laptop-fingerprint"


def login(
    client: FlaskClient, username: str, password: str, ip: str, device: str | None = None
) -> Any:
    body: dict[str, str] = {"username": username, "password": password}
    if device:
        body["device_fingerprint"] = device
    return client.post("/api/auth/login", json=body, environ_base={"REMOTE_ADDR": ip})


def events(event_type: str) -> list[AuditEvent]:
    db.session.expire_all()
    query = sa.select(AuditEvent).where(AuditEvent.event_type == event_type)
    return list(db.session.scalars(query.order_by(AuditEvent.id)))


def test_a_stranger_locks_out_only_unfamiliar_sources(client: FlaskClient) -> None:
    owner = make_user()
    assert login(client, owner.username, TEST_PASSWORD, OWNER_IP, DEVICE).status_code == 200

    statuses = [login(client, owner.username, "guess", ATTACKER_IP).status_code for _ in range(8)]

    assert statuses == [401] * 5 + [429] * 3
    # The owner's familiar network and familiar device (from a new network) still sign in.
    assert login(client, owner.username, TEST_PASSWORD, OWNER_IP).status_code == 200
    assert login(client, owner.username, TEST_PASSWORD, NEW_IP, DEVICE).status_code == 200
    # An unfamiliar source shares the stranger's spent budget, even with the right password.
    assert login(client, owner.username, TEST_PASSWORD, "10.3.3.3").status_code == 429
    assert login(client, owner.username, "guess", ATTACKER_IP).status_code == 429


def test_a_familiar_source_has_a_budget_of_its_own(client: FlaskClient) -> None:
    owner = make_user()
    assert login(client, owner.username, TEST_PASSWORD, OWNER_IP).status_code == 200
    statuses = [login(client, owner.username, "typo", OWNER_IP).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    # The stranger's budget is untouched by the owner's typos.
    assert login(client, owner.username, "guess", ATTACKER_IP).status_code == 401


def test_only_so_many_unfamiliar_failures_are_checked_in_all(
    base_config: dict[str, Any],
) -> None:
    with app_in_context({**base_config, "LOGIN_MAX_UNFAMILIAR_FAILURES": 3}) as app:
        client = app.test_client()
        owner = make_user()
        assert login(client, owner.username, TEST_PASSWORD, OWNER_IP).status_code == 200
        statuses = [login(client, f"name{n}", "guess", f"10.2.0.{n}").status_code for n in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        unchecked = db.session.scalar(
            sa.select(sa.func.count()).select_from(LoginAttempt).where(~LoginAttempt.success)
        )
        assert unchecked == 3
        assert login(client, owner.username, TEST_PASSWORD, OWNER_IP).status_code == 200


def test_without_redis_sign_in_fails_closed(base_config: dict[str, Any]) -> None:
    settings = {
        **base_config,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "REDIS_RETRY_ATTEMPTS": 0,
        "REDIS_CONNECT_TIMEOUT": 0.2,
    }
    with app_in_context(settings) as app:
        owner = make_user()
        response = login(app.test_client(), owner.username, TEST_PASSWORD, OWNER_IP)
        assert_error(response, 503, "sign_in_unavailable")
        assert response.headers["Retry-After"]
        assert events("login_succeeded") == [] and events("login_failed") == []


def test_a_strangers_failure_names_the_account_as_subject_not_actor(
    client: FlaskClient,
) -> None:
    victim = make_user()
    login(client, victim.username, "guess", ATTACKER_IP)
    login(client, victim.username, TEST_PASSWORD, OWNER_IP)
    [failed] = events("login_failed")
    assert (failed.subject_type, failed.subject_id) == ("user", victim.username)
    assert failed.actor_user_id is None and failed.ip_address == ATTACKER_IP
    [succeeded] = events("login_succeeded")
    assert succeeded.actor_user_id == victim.id


def test_refusals_are_one_event_per_window_with_a_summary_after(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(300 * 5_000_000 + 1)  # one second into a window
    monkeypatch.setattr(refusals, "time", clock)
    victim = make_user()
    for _ in range(5):
        login(client, victim.username, "guess", ATTACKER_IP)
    for _ in range(30):
        assert login(client, victim.username, "guess", ATTACKER_IP).status_code == 429
    [locked] = events("login_locked")
    assert locked.payload["aggregated"] is True and locked.actor_user_id is None
    assert locked.subject_id == victim.username and locked.ip_address == ATTACKER_IP
    assert events("login_locked_summary") == []

    clock.now += 300  # the next window opens with the next refusal
    assert login(client, victim.username, "guess", ATTACKER_IP).status_code == 429
    [summary] = events("login_locked_summary")
    assert summary.payload["count"] == 30 and summary.payload["window_seconds"] == 300
    assert summary.subject_id == victim.username and summary.ip_address == ATTACKER_IP
    assert len(events("login_locked")) == 2


def test_refused_privileged_actions_are_audited_once_per_window(
    client: FlaskClient, user_login: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refusals, "time", FakeClock(300 * 5_000_000 + 1))
    for _ in range(20):
        response = client.get("/api/admin/users", headers=user_login.headers)
        assert_error(response, 403, "forbidden")
    [denied] = events("access_denied")
    assert denied.actor_user_id == user_login.user.id
    assert denied.payload["endpoint"] == "admin_users.list_users"
    assert denied.payload["method"] == "GET" and denied.payload["aggregated"] is True


def test_token_refresh_is_audited(client: FlaskClient, user_login: SignedIn) -> None:
    response = client.post("/api/auth/refresh", json={"refresh_token": user_login.refresh_token})
    assert response.status_code == 200
    [refreshed] = events("token_refreshed")
    assert refreshed.actor_user_id == user_login.user.id
    assert (refreshed.subject_type, refreshed.subject_id) == ("session", user_login.session_id)


def test_a_wrong_current_password_is_not_also_an_access_denied(
    client: FlaskClient, user_login: SignedIn, app: Flask
) -> None:
    response = client.post(
        "/api/auth/password",
        json={"current_password": "not it", "new_password": "velvet otter climbs granite"},
        headers=user_login.headers,
    )
    assert_error(response, 403, "invalid_credentials")
    assert len(events("password_change_failed")) == 1
    assert events("access_denied") == []
