"""The step-up gate and POST /api/auth/step-up.

While a session is in step-up its sensitive routes answer 403 ``step_up_required``; the
right password clears it and lowers the session's risk, the third wrong one ends it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import LoginAttempt, PolicyDecision, RiskAssessment, UserSession
from app.services.risk.enforcement import apply_decision
from tests.checks import assert_error, audit_events
from tests.conftest import TEST_PASSWORD, SignedIn, make_user, sign_in
from tests.risk_support import assessment_for
from tests.unit.sockets import Sockets, payloads

STEP_UP_URL = "/api/auth/step-up"
NEW_PASSWORD = "a brand new passphrase"


def session_of(login: SignedIn) -> UserSession:
    db.session.expire_all()
    session = db.session.get(UserSession, uuid.UUID(login.session_id))
    assert session is not None
    return session


def step_up(login: SignedIn, score: float = 70) -> None:
    session = session_of(login)
    session.risk_score = score
    db.session.commit()
    assert apply_decision(session, assessment_for(session, score), "step_up").applied


def confirm(client: FlaskClient, login: SignedIn, password: str, **extra: Any) -> TestResponse:
    return client.post(STEP_UP_URL, json={"password": password, **extra}, headers=login.headers)


Call = Callable[[FlaskClient, SignedIn, SignedIn], TestResponse]

# Route → how to call it as (caller, another session of the caller's user).
GATED: dict[str, Call] = {
    "admin users": lambda c, me, _: c.get("/api/admin/users", headers=me.headers),
    "admin realtime stats": lambda c, me, _: c.get("/api/admin/realtime/stats", headers=me.headers),
    "admin user risk": lambda c, me, _: c.get(
        f"/api/admin/users/{me.user_id}/risk", headers=me.headers
    ),
    "change password": lambda c, me, _: c.post(
        "/api/auth/password",
        json={"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD},
        headers=me.headers,
    ),
    "terminate another session": lambda c, me, other: c.delete(
        f"/api/sessions/{other.session_id}", headers=me.headers
    ),
}
OPEN: dict[str, Call] = {
    "me": lambda c, me, _: c.get("/api/auth/me", headers=me.headers),
    "own sessions": lambda c, me, _: c.get(
        f"/api/sessions?user_id={me.user_id}", headers=me.headers
    ),
    "own session": lambda c, me, _: c.get(f"/api/sessions/{me.session_id}", headers=me.headers),
    "own risk": lambda c, me, _: c.get(f"/api/risk/sessions/{me.session_id}", headers=me.headers),
    "terminate own session": lambda c, me, _: c.delete(
        f"/api/sessions/{me.session_id}", headers=me.headers
    ),
    "logout": lambda c, me, _: c.post("/api/auth/logout", headers=me.headers),
}


@pytest.fixture
def admin_pair(client: FlaskClient) -> tuple[SignedIn, SignedIn]:
    admin = make_user("admin")
    return sign_in(client, admin), sign_in(client, admin)


@pytest.mark.parametrize("in_step_up", [True, False], ids=["in step-up", "not in step-up"])
@pytest.mark.parametrize("route", sorted(GATED))
def test_sensitive_routes_answer_step_up_required_only_in_step_up(
    client: FlaskClient, admin_pair: tuple[SignedIn, SignedIn], route: str, in_step_up: bool
) -> None:
    me, other = admin_pair
    if in_step_up:
        step_up(me)

    response = GATED[route](client, me, other)

    if in_step_up:
        assert_error(response, 403, "step_up_required")
        assert session_of(other).is_active
    else:
        assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("route", sorted(OPEN))
def test_own_data_and_signing_out_still_work_in_step_up(
    client: FlaskClient, admin_pair: tuple[SignedIn, SignedIn], route: str
) -> None:
    me, other = admin_pair
    step_up(me)

    response = OPEN[route](client, me, other)

    assert response.status_code == 200, response.get_json()


def test_a_non_admin_in_step_up_is_refused_as_a_non_admin(
    client: FlaskClient, user_login: SignedIn
) -> None:
    step_up(user_login)

    assert_error(client.get("/api/admin/users", headers=user_login.headers), 403, "forbidden")


def test_the_gate_is_audited_as_a_refused_action(
    client: FlaskClient, admin_pair: tuple[SignedIn, SignedIn]
) -> None:
    me, _ = admin_pair
    step_up(me)

    client.get("/api/admin/users", headers=me.headers)

    [event] = audit_events("access_denied")
    assert event.payload["code"] == "step_up_required"


def test_the_right_password_clears_step_up_and_lowers_the_risk(
    client: FlaskClient, sockets: Sockets, admin_pair: tuple[SignedIn, SignedIn]
) -> None:
    me, _ = admin_pair
    socket = sockets.open(me.access_token)
    step_up(me, score=72)
    socket.drain()

    response = confirm(client, me, TEST_PASSWORD)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "step_up_passed" and body["risk_score"] == 30.0
    assert body["session"]["step_up_required"] is False
    session = session_of(me)
    assert not session.needs_step_up and session.step_up_failures == 0
    assert (session.risk_score, session.risk_level) == (30.0, "medium")
    [assessment] = db.session.scalars(
        sa.select(RiskAssessment).where(RiskAssessment.session_id == session.id)
    ).all()
    assert assessment.risk_score == 30.0
    assert assessment.factors["factors"][0]["name"] == "step_up_passed"
    [decision] = db.session.scalars(
        sa.select(PolicyDecision).where(PolicyDecision.session_id == session.id)
    ).all()
    assert decision.outcome == "step_up_passed" and decision.outcome_at is not None
    assert audit_events("step_up_passed")[0].subject_id == me.session_id
    [cleared] = payloads(socket.drain(), "notification")
    assert (cleared["kind"], cleared["session_id"]) == ("step_up_passed", me.session_id)
    assert client.get("/api/admin/users", headers=me.headers).status_code == 200


def test_admin_scope_over_socketio_waits_for_the_step_up_too(
    client: FlaskClient, sockets: Sockets, admin_pair: tuple[SignedIn, SignedIn]
) -> None:
    me, _ = admin_pair
    someone = sign_in(client, make_user("user"))
    socket = sockets.open(me.access_token)
    step_up(me)
    socket.drain()

    refused = [
        socket.call("join_admin_room", {}),
        socket.call("join_user_room", {"user_id": someone.user_id}),
        socket.call(
            "subscribe_risk_score",
            {"user_id": someone.user_id, "session_id": someone.session_id},
        ),
        socket.call("subscribe_network_topology", {}),
    ]
    own_room = socket.call("join_user_room", {"user_id": me.user_id})

    assert [ack["error"]["code"] for ack in refused] == ["step_up_required"] * 4
    assert own_room["ok"] is True
    assert confirm(client, me, TEST_PASSWORD).status_code == 200
    assert socket.call("join_admin_room", {})["ok"] is True


def test_an_admin_in_step_up_reads_no_other_users_sessions_or_risk(
    client: FlaskClient, admin_pair: tuple[SignedIn, SignedIn]
) -> None:
    me, _ = admin_pair
    someone = sign_in(client, make_user("user"))
    reads = {
        "everyone's sessions": lambda: client.get("/api/sessions", headers=me.headers),
        "another user's session": lambda: client.get(
            f"/api/sessions/{someone.session_id}", headers=me.headers
        ),
        "another user's risk": lambda: client.get(
            f"/api/risk/sessions/{someone.session_id}", headers=me.headers
        ),
    }
    assert {name: read().status_code for name, read in reads.items()} == dict.fromkeys(reads, 200)
    step_up(me)

    for name, read in reads.items():
        assert_error(read(), 403, "step_up_required"), name

    assert confirm(client, me, TEST_PASSWORD).status_code == 200
    assert {name: read().status_code for name, read in reads.items()} == dict.fromkeys(reads, 200)


def test_a_lower_risk_is_kept_when_step_up_passes(
    client: FlaskClient, user_login: SignedIn
) -> None:
    step_up(user_login, score=12)

    assert confirm(client, user_login, TEST_PASSWORD).get_json()["risk_score"] == 12.0


def test_a_wrong_password_counts_a_failure_like_a_failed_login(
    client: FlaskClient, user_login: SignedIn
) -> None:
    step_up(user_login)

    error = assert_error(
        confirm(client, user_login, "not the password"), 403, "invalid_credentials"
    )

    assert error["details"] == {"attempts_left": 2}
    session = session_of(user_login)
    assert session.needs_step_up and session.step_up_failures == 1 and session.is_active
    [attempt] = db.session.scalars(
        sa.select(LoginAttempt).where(LoginAttempt.success.is_(False))
    ).all()
    assert (attempt.user_id, attempt.reason) == (user_login.user_id, "bad_password")
    assert len(audit_events("step_up_failed")) == 1
    assert audit_events("access_denied") == []


def test_three_wrong_passwords_end_the_session(
    client: FlaskClient, sockets: Sockets, user_login: SignedIn, admin_login: SignedIn
) -> None:
    socket = sockets.open(user_login.access_token)
    admin_socket = sockets.open(admin_login.access_token)
    assert admin_socket.call("join_admin_room", {})["ok"]
    step_up(user_login)
    socket.drain()
    admin_socket.drain()

    codes = [
        confirm(client, user_login, f"wrong {n}").get_json()["error"]["code"] for n in range(3)
    ]

    assert codes == ["invalid_credentials", "invalid_credentials", "step_up_failed"]
    session = session_of(user_login)
    assert (session.status, session.termination_reason) == ("terminated", "step_up_failed")
    [ended] = payloads(socket.drain(), "session_terminated")
    assert ended["reason"] == "step_up_failed"
    [note] = payloads(admin_socket.drain(), "admin_notification")
    assert (note["kind"], note["session_id"]) == (
        "session_terminated_by_risk",
        user_login.session_id,
    )
    [decision] = db.session.scalars(
        sa.select(PolicyDecision).where(PolicyDecision.session_id == session.id)
    ).all()
    assert decision.outcome == "step_up_failed"
    assert_error(client.get("/api/auth/me", headers=user_login.headers), 401, "session_ended")
    assert_error(confirm(client, user_login, TEST_PASSWORD), 401, "session_ended")


def test_a_failure_after_a_pass_starts_again_from_three(
    client: FlaskClient, user_login: SignedIn
) -> None:
    step_up(user_login)
    confirm(client, user_login, "wrong")
    confirm(client, user_login, TEST_PASSWORD)
    step_up(user_login)

    error = assert_error(confirm(client, user_login, "wrong"), 403, "invalid_credentials")

    assert error["details"] == {"attempts_left": 2}


def test_not_in_step_up_is_a_conflict_and_checks_no_password(
    client: FlaskClient, user_login: SignedIn
) -> None:
    assert_error(confirm(client, user_login, "wrong"), 409, "step_up_not_required")
    assert_error(confirm(client, user_login, TEST_PASSWORD), 409, "step_up_not_required")
    assert audit_events("step_up_failed") == []


def test_a_spent_sign_in_budget_gives_the_try_back(
    app: Flask, client: FlaskClient, user_login: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    step_up(user_login)
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_USER", 1)
    confirm(client, user_login, "wrong")

    response = confirm(client, user_login, "wrong again")

    assert_error(response, 429)
    assert session_of(user_login).step_up_failures == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"password": ""},
        {"password": 123},
        {"password": TEST_PASSWORD, "extra": 1},
        {"password": TEST_PASSWORD, "typing": {"keystrokes": []}},
        {"password": TEST_PASSWORD, "typing": {"keystrokes": [{"field": "password"}]}},
        {
            "password": TEST_PASSWORD,
            "typing": {
                "keystrokes": [
                    {"field": "password", "seq": 0, "cls": "letter", "down": 50, "up": 10}
                ]
            },
        },
        {
            "password": TEST_PASSWORD,
            "typing": {
                "keystrokes": [{"field": "password", "seq": 0, "cls": "x", "down": 1, "up": 2}]
            },
        },
    ],
)
def test_bad_input_is_refused_and_counts_nothing(
    client: FlaskClient, user_login: SignedIn, body: dict[str, Any]
) -> None:
    step_up(user_login)

    response = client.post(STEP_UP_URL, json=body, headers=user_login.headers)

    assert_error(response, 400)
    session = session_of(user_login)
    assert session.needs_step_up and session.step_up_failures == 0


def test_valid_typing_timings_are_accepted(client: FlaskClient, user_login: SignedIn) -> None:
    step_up(user_login)
    typing = {
        "keystrokes": [
            {"field": "password", "seq": n, "cls": "letter", "down": 100 * n, "up": 100 * n + 60}
            for n in range(8)
        ]
    }

    assert confirm(client, user_login, TEST_PASSWORD, typing=typing).status_code == 200


def test_step_up_needs_a_signed_in_session(client: FlaskClient) -> None:
    assert_error(client.post(STEP_UP_URL, json={"password": "x"}), 401, "missing_token")
