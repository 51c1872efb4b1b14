"""POST /api/auth/password: a signed-in user changes their own password.

A change ends every other session of the user; a wrong current password changes nothing
but counts towards the login lockout, so a stolen session is no unlimited password oracle.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.errors import ValidationFailed
from app.extensions import db
from app.models import LoginAttempt, User, UserSession
from app.services import user_service
from tests.checks import assert_error, assert_unchanged, audit_events, table_rows
from tests.conftest import TEST_PASSWORD, SignedIn, make_user, sign_in
from tests.unit.sockets import Sockets, names, second_login

PASSWORD_URL = "/api/auth/password"
NEW_PASSWORD = "a brand new passphrase"
# A refused current password is recorded for the lockout and audited, like a failed login.
ATTEMPT_RECORDS = ("login_attempts", "audit_events")


def change(client: FlaskClient, headers: dict[str, str], current: str, new: str) -> Any:
    return client.post(
        PASSWORD_URL, json={"current_password": current, "new_password": new}, headers=headers
    )


def login_status(client: FlaskClient, username: str, password: str) -> int:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    return response.status_code


def test_change_keeps_the_callers_session_and_ends_the_others(
    client: FlaskClient, user_login: SignedIn
) -> None:
    other = sign_in(client, user_login.user)
    username = user_login.user.username

    response = change(client, user_login.headers, TEST_PASSWORD, NEW_PASSWORD)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "password_changed", "sessions_ended": 1}
    assert client.get("/api/auth/me", headers=user_login.headers).status_code == 200
    assert_error(client.get("/api/auth/me", headers=other.headers), 401, "session_ended")
    stolen_refresh = client.post("/api/auth/refresh", json={"refresh_token": other.refresh_token})
    assert_error(stolen_refresh, 401)
    assert login_status(client, username, TEST_PASSWORD) == 401
    assert login_status(client, username, NEW_PASSWORD) == 200
    db.session.expire_all()
    ended = db.session.get(UserSession, uuid.UUID(other.session_id))
    assert ended.status == "terminated" and ended.termination_reason == "password_changed"
    assert db.session.get(UserSession, uuid.UUID(user_login.session_id)).is_active


def test_change_is_audited_without_the_password(client: FlaskClient, user_login: SignedIn) -> None:
    sign_in(client, user_login.user)

    assert change(client, user_login.headers, TEST_PASSWORD, NEW_PASSWORD).status_code == 200

    [event] = audit_events("password_changed")
    assert event.actor_user_id == user_login.user.id
    assert event.subject_type == "user" and event.subject_id == str(user_login.user.id)
    assert event.ip_address == "127.0.0.1"
    assert event.payload == {"sessions_ended": 1}
    assert NEW_PASSWORD not in str(event.payload) and TEST_PASSWORD not in str(event.payload)
    [terminated] = audit_events("session_terminated")
    assert terminated.payload["reason"] == "password_changed"


def test_the_other_sessions_sockets_are_told_and_disconnected(
    client: FlaskClient, sockets: Sockets, account: SignedIn
) -> None:
    other = second_login(client, account)
    own_socket = sockets.open(account.access_token)
    stolen_socket = sockets.open(other.access_token)
    own_socket.drain()
    stolen_socket.drain()

    assert change(client, account.headers, TEST_PASSWORD, NEW_PASSWORD).status_code == 200

    [(name, body)] = stolen_socket.drain()
    assert name == "session_terminated"
    assert body["session_id"] == other.session_id and body["reason"] == "password_changed"
    assert not stolen_socket.is_connected()
    assert own_socket.is_connected()
    assert "session_terminated" not in names(own_socket.drain())


def test_wrong_current_password_is_403_changes_nothing_and_is_recorded(
    client: FlaskClient, user_login: SignedIn
) -> None:
    other = sign_in(client, user_login.user)
    before = table_rows()

    response = change(client, user_login.headers, "not my password", NEW_PASSWORD)

    assert_error(response, 403, "invalid_credentials")
    assert_unchanged(before, except_tables=ATTEMPT_RECORDS)
    assert client.get("/api/auth/me", headers=other.headers).status_code == 200
    [attempt] = db.session.scalars(
        sa.select(LoginAttempt).where(LoginAttempt.reason == "bad_current_password")
    ).all()
    assert attempt.username == user_login.user.username and attempt.success is False
    assert [e.actor_user_id for e in audit_events("password_change_failed")] == [user_login.user.id]
    assert login_status(client, user_login.user.username, TEST_PASSWORD) == 200


def test_repeated_wrong_current_passwords_lock_the_change_and_the_login(
    client: FlaskClient, app: Flask, user_login: SignedIn
) -> None:
    limit = app.config["LOGIN_MAX_FAILURES_PER_USER"]
    for _ in range(limit):
        assert_error(change(client, user_login.headers, "guess", NEW_PASSWORD), 403)

    locked = change(client, user_login.headers, TEST_PASSWORD, NEW_PASSWORD)

    # Even the right password is refused while locked, and the lock is the login's own.
    assert_error(locked, 429, "login_locked")
    assert int(locked.headers["Retry-After"]) > 0
    assert len(audit_events("password_change_locked")) == 1
    assert login_status(client, user_login.user.username, TEST_PASSWORD) == 429
    assert client.get("/api/auth/me", headers=user_login.headers).status_code == 200
    assert audit_events("password_changed") == []


def test_failed_logins_count_against_the_change_too(
    client: FlaskClient, app: Flask, user_login: SignedIn
) -> None:
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_USER"]):
        assert login_status(client, user_login.user.username, "guess") == 401

    locked = change(client, user_login.headers, TEST_PASSWORD, NEW_PASSWORD)

    assert_error(locked, 429, "login_locked")
    assert audit_events("password_changed") == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"current_password": TEST_PASSWORD, "new_password": "short"}, "invalid_payload"),
        ({"current_password": TEST_PASSWORD, "new_password": "p" * 257}, "invalid_payload"),
        ({"current_password": TEST_PASSWORD, "new_password": TEST_PASSWORD}, "password_unchanged"),
        ({"current_password": TEST_PASSWORD}, "invalid_payload"),
        ({"new_password": NEW_PASSWORD}, "invalid_payload"),
        ({"current_password": TEST_PASSWORD, "new_password": 12345678}, "invalid_payload"),
        (
            {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "user_id": 1},
            "invalid_payload",
        ),
    ],
    ids=["too-short", "too-long", "unchanged", "no-new", "no-current", "not-a-string", "extra"],
)
def test_refused_new_password_is_400_and_changes_nothing(
    client: FlaskClient, user_login: SignedIn, body: dict[str, Any], code: str
) -> None:
    other = sign_in(client, user_login.user)
    before = table_rows()

    response = client.post(PASSWORD_URL, json=body, headers=user_login.headers)

    error = assert_error(response, 400, code)
    assert TEST_PASSWORD not in str(error)
    assert_unchanged(before)
    assert client.get("/api/auth/me", headers=other.headers).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_unauthenticated_is_401_and_changes_nothing(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    make_user(username="alice")
    before = table_rows()

    assert_error(change(client, headers, TEST_PASSWORD, NEW_PASSWORD), 401)

    assert_unchanged(before)
    assert login_status(client, "alice", TEST_PASSWORD) == 200


def test_a_session_that_has_ended_cannot_change_the_password(
    client: FlaskClient, user_login: SignedIn
) -> None:
    client.post("/api/auth/logout", headers=user_login.headers)
    before = table_rows()

    assert_error(change(client, user_login.headers, TEST_PASSWORD, NEW_PASSWORD), 401)

    assert_unchanged(before)


def test_the_service_applies_the_account_rules_without_the_schema(
    client: FlaskClient, user_login: SignedIn
) -> None:
    """Callers that skip the request schema (the CLI, a task) get the same rules."""
    user = db.session.get(User, user_login.user.id)
    before = table_rows()

    with pytest.raises(ValidationFailed, match="at least 8"):
        user_service.change_password(
            user,
            TEST_PASSWORD,
            "short",
            keep_session_id=uuid.UUID(user_login.session_id),
            ip_address="127.0.0.1",
        )

    assert_unchanged(before)
