"""Login sessions over REST: who may see and end which session, and what ending one does."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from app.extensions import db
from app.models import AuditEvent, UserSession
from tests.checks import assert_error, assert_unchanged, table_rows
from tests.conftest import SignedIn, make_user, sign_in


def session_status(session_id: str) -> str:
    db.session.expire_all()
    return db.session.get(UserSession, uuid.UUID(session_id)).status


def test_user_lists_only_their_own_sessions(client: FlaskClient, user_login: SignedIn) -> None:
    other = sign_in(client, make_user())
    second = sign_in(client, user_login.user)

    body = client.get("/api/sessions", headers=user_login.headers).get_json()

    assert body["total"] == 2
    assert {item["id"] for item in body["items"]} == {user_login.session_id, second.session_id}
    assert other.session_id not in {item["id"] for item in body["items"]}
    assert {item["user_id"] for item in body["items"]} == {user_login.user.id}


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_user_cannot_read_or_terminate_another_users_session(
    client: FlaskClient, user_login: SignedIn, method: str
) -> None:
    victim = sign_in(client, make_user())
    before = table_rows()

    response = client.open(
        f"/api/sessions/{victim.session_id}", method=method, headers=user_login.headers
    )

    unknown = client.open(
        f"/api/sessions/{uuid.uuid4()}", method=method, headers=user_login.headers
    )
    assert_error(response, 404, "not_found")  # as an unknown session: ids cannot be probed
    assert response.get_json() == unknown.get_json()
    assert_unchanged(before, except_tables=("audit_events",))  # the refusal is audited
    assert client.get("/api/auth/me", headers=victim.headers).status_code == 200


def test_non_admin_filtering_by_another_user_is_403(
    client: FlaskClient, user_login: SignedIn
) -> None:
    other = make_user()
    response = client.get(f"/api/sessions?user_id={other.id}", headers=user_login.headers)
    assert_error(response, 403, "forbidden")
    own = client.get(f"/api/sessions?user_id={user_login.user.id}", headers=user_login.headers)
    assert own.status_code == 200 and own.get_json()["total"] == 1


def test_admin_lists_everyone_and_filters_by_user_and_status(
    client: FlaskClient, admin_login: SignedIn
) -> None:
    alice, bob = make_user(), make_user()
    alice_first, alice_second = sign_in(client, alice), sign_in(client, alice)
    bob_session = sign_in(client, bob)
    client.delete(f"/api/sessions/{alice_first.session_id}", headers=alice_first.headers)

    def listed(query: str) -> dict:
        response = client.get(f"/api/sessions{query}", headers=admin_login.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    everyone = listed("")
    assert everyone["total"] == 4
    assert {item["user_id"] for item in everyone["items"]} == {
        alice.id,
        bob.id,
        admin_login.user.id,
    }
    assert {item["id"] for item in listed(f"?user_id={alice.id}")["items"]} == {
        alice_first.session_id,
        alice_second.session_id,
    }
    assert [item["id"] for item in listed("?status=terminated")["items"]] == [
        alice_first.session_id
    ]
    active_alice = listed(f"?user_id={alice.id}&status=active")
    assert [item["id"] for item in active_alice["items"]] == [alice_second.session_id]
    assert listed(f"?user_id={bob.id}")["items"][0]["id"] == bob_session.session_id

    page = listed("?limit=2&offset=1")
    assert page["total"] == 4 and page["limit"] == 2 and page["offset"] == 1
    assert len(page["items"]) == 2


def test_admin_reads_and_terminates_any_session(
    client: FlaskClient, admin_login: SignedIn, user_login: SignedIn
) -> None:
    url = f"/api/sessions/{user_login.session_id}"
    read = client.get(url, headers=admin_login.headers)
    assert read.status_code == 200
    assert read.get_json()["user_id"] == user_login.user.id

    ended = client.delete(url, headers=admin_login.headers)

    assert ended.status_code == 200
    body = ended.get_json()
    assert body["status"] == "terminated"
    assert body["termination_reason"] == "terminated_by_admin"
    assert body["ended_at"] is not None
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.event_type == "session_terminated")
    ).one()
    assert event.actor_user_id == admin_login.user.id
    assert event.subject_id == user_login.session_id
    # The very next request with that session's tokens is refused.
    assert_error(client.get("/api/auth/me", headers=user_login.headers), 401, "session_ended")
    refresh = client.post("/api/auth/refresh", json={"refresh_token": user_login.refresh_token})
    assert_error(refresh, 401)
    # The admin's own session is untouched.
    assert client.get("/api/auth/me", headers=admin_login.headers).status_code == 200


def test_owner_terminates_their_own_session(client: FlaskClient, user_login: SignedIn) -> None:
    other_device = sign_in(client, user_login.user)

    ended = client.delete(f"/api/sessions/{other_device.session_id}", headers=user_login.headers)

    assert ended.status_code == 200
    assert ended.get_json()["termination_reason"] == "terminated_by_user"
    assert session_status(other_device.session_id) == "terminated"
    assert_error(client.get("/api/auth/me", headers=other_device.headers), 401, "session_ended")
    assert client.get("/api/auth/me", headers=user_login.headers).status_code == 200


def test_terminating_the_current_session_refuses_its_token_at_once(
    client: FlaskClient, user_login: SignedIn
) -> None:
    url = f"/api/sessions/{user_login.session_id}"
    assert client.delete(url, headers=user_login.headers).status_code == 200
    assert_error(client.get("/api/auth/me", headers=user_login.headers), 401, "session_ended")
    assert_error(client.get("/api/sessions", headers=user_login.headers), 401)


def test_terminating_an_ended_session_again_changes_nothing(
    client: FlaskClient, admin_login: SignedIn, user_login: SignedIn
) -> None:
    url = f"/api/sessions/{user_login.session_id}"
    assert client.delete(url, headers=admin_login.headers).status_code == 200
    before = table_rows()

    again = client.delete(url, headers=admin_login.headers)

    assert again.status_code == 200 and again.get_json()["status"] == "terminated"
    assert_unchanged(before)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_unknown_session_is_404(client: FlaskClient, admin_login: SignedIn, method: str) -> None:
    before = table_rows()
    response = client.open(
        f"/api/sessions/{uuid.uuid4()}", method=method, headers=admin_login.headers
    )
    assert_error(response, 404, "not_found")
    assert_unchanged(before)


@pytest.mark.parametrize(
    "session_id", ["not-a-uuid", "12345", "0" * 33, "%27%20OR%201%3D1--", "a" * 500]
)
def test_malformed_session_id_is_a_404_envelope(
    client: FlaskClient, user_login: SignedIn, session_id: str
) -> None:
    before = table_rows()
    for method in ("GET", "DELETE"):
        response = client.open(
            f"/api/sessions/{session_id}", method=method, headers=user_login.headers
        )
        assert_error(response, 404)
    assert_unchanged(before)


@pytest.mark.parametrize("query", ["?status=bogus", "?user_id=abc", "?limit=0", "?limit=201"])
def test_bad_list_filters_are_400(client: FlaskClient, admin_login: SignedIn, query: str) -> None:
    assert_error(client.get(f"/api/sessions{query}", headers=admin_login.headers), 400)


def test_sessions_need_a_token(client: FlaskClient, user_login: SignedIn) -> None:
    before = table_rows()
    assert_error(client.get("/api/sessions"), 401)
    assert_error(client.get(f"/api/sessions/{user_login.session_id}"), 401)
    assert_error(client.delete(f"/api/sessions/{user_login.session_id}"), 401)
    assert_unchanged(before)
