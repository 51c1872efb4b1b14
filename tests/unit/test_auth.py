"""Login, lockout, tokens, refresh rotation and logout."""

from __future__ import annotations

import jwt
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import AuditEvent, LoginAttempt, UserSession
from tests.conftest import TEST_PASSWORD, SignedIn, app_in_context, count, make_user, sign_in
from tests.procs import wait_for


def test_login_returns_tokens_carrying_the_session(client: FlaskClient, app: Flask) -> None:
    user = make_user()
    signed = sign_in(client, user)
    claims = jwt.decode(
        signed.access_token,
        app.config["JWT_SECRET_KEY"],
        algorithms=["HS256"],
        issuer=app.config["JWT_ISSUER"],
    )
    assert claims["sid"] == signed.session_id
    assert claims["sub"] == str(user.id)
    assert claims["exp"] - claims["iat"] == 900
    refresh = jwt.decode(
        signed.refresh_token,
        app.config["JWT_SECRET_KEY"],
        algorithms=["HS256"],
        issuer=app.config["JWT_ISSUER"],
    )
    assert refresh["sid"] == signed.session_id and refresh["typ"] == "refresh"
    me = client.get("/api/auth/me", headers=signed.headers).get_json()
    assert me["user"]["username"] == user.username
    assert me["session"]["id"] == signed.session_id


def test_wrong_password_is_401_and_recorded(client: FlaskClient) -> None:
    user = make_user()
    response = client.post("/api/auth/login", json={"username": user.username, "password": "nope"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_credentials"
    assert count(UserSession) == 0
    assert count(LoginAttempt) == 1
    [event] = db.session.scalars(sa.select(AuditEvent)).all()
    assert event.event_type == "login_failed"
    # The claimed account is the subject; nobody authenticated, so there is no actor.
    assert (event.subject_type, event.subject_id) == ("user", user.username)
    assert event.actor_user_id is None


def test_sixth_rapid_failure_is_locked_with_429(client: FlaskClient) -> None:
    user = make_user()
    for _ in range(5):
        bad = client.post("/api/auth/login", json={"username": user.username, "password": "x"})
        assert bad.status_code == 401
    locked = client.post("/api/auth/login", json={"username": user.username, "password": "x"})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert locked.get_json()["error"]["code"] == "login_locked"
    # Even the right password is refused during the cool-down.
    right = client.post(
        "/api/auth/login", json={"username": user.username, "password": TEST_PASSWORD}
    )
    assert right.status_code == 429


def test_lockout_ends_after_the_window(base_config: dict[str, object]) -> None:
    # The budgets live in Redis with the window as their lifetime: a two-second window is
    # waited out (polling, with a deadline) instead of back-dating rows.
    with app_in_context({**base_config, "LOGIN_FAILURE_WINDOW_SECONDS": 2}) as app:
        client = app.test_client()
        user = make_user()
        for _ in range(5):
            client.post("/api/auth/login", json={"username": user.username, "password": "x"})
        right = {"username": user.username, "password": TEST_PASSWORD}
        assert client.post("/api/auth/login", json=right).status_code == 429
        wait_for(
            lambda: client.post("/api/auth/login", json=right).status_code == 200,
            10,
            "the lockout to end with its window",
            poll=0.2,
        )


def test_tampered_token_is_401(client: FlaskClient, user_login: SignedIn) -> None:
    header, payload, signature = user_login.access_token.split(".")
    flipped = "A" if signature[-2] != "A" else "B"
    tampered = f"{header}.{payload}.{signature[:-2]}{flipped}{signature[-1]}"
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401


def test_expired_token_is_401(client: FlaskClient, app: Flask, user_login: SignedIn) -> None:
    claims = jwt.decode(user_login.access_token, options={"verify_signature": False})
    claims["exp"] = claims["iat"] - 1
    expired = jwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_expired"


def test_refresh_token_is_not_an_access_token(client: FlaskClient, user_login: SignedIn) -> None:
    response = client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {user_login.refresh_token}"}
    )
    assert response.status_code == 401


def test_logout_revokes_access_and_refresh(client: FlaskClient, user_login: SignedIn) -> None:
    assert client.post("/api/auth/logout", headers=user_login.headers).status_code == 200
    assert client.get("/api/auth/me", headers=user_login.headers).status_code == 401
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": user_login.refresh_token})
    assert refreshed.status_code == 401


def test_refresh_rotates_and_detects_reuse(client: FlaskClient, user_login: SignedIn) -> None:
    first = client.post("/api/auth/refresh", json={"refresh_token": user_login.refresh_token})
    assert first.status_code == 200
    new = first.get_json()
    assert (
        client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {new['access_token']}"}
        ).status_code
        == 200
    )
    # Replaying the old refresh token ends the whole session.
    replay = client.post("/api/auth/refresh", json={"refresh_token": user_login.refresh_token})
    assert replay.status_code == 401
    assert replay.get_json()["error"]["code"] == "token_reused"
    assert (
        client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {new['access_token']}"}
        ).status_code
        == 401
    )


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer not.a.jwt"])
def test_missing_or_malformed_authorization_is_401(client: FlaskClient, header: str) -> None:
    response = client.get("/api/auth/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert set(response.get_json()["error"]) == {"code", "message", "details"}
