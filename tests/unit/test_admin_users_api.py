"""Admin user management: create, list, read, change role, disable; and who may do it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from app.extensions import db
from app.models import User, UserSession
from tests.checks import assert_error, assert_unchanged, audit_events, table_rows
from tests.conftest import TEST_PASSWORD, SignedIn, count, make_user, sign_in

USERS = "/api/admin/users"


def test_admin_creates_a_user_who_can_then_sign_in(
    client: FlaskClient, admin_login: SignedIn
) -> None:
    response = client.post(
        USERS,
        json={"username": "New.Person", "password": "long enough pw", "email": "np@example.org"},
        headers=admin_login.headers,
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["username"] == "new.person"
    assert body["role"] == "user" and body["is_active"] is True
    assert body["email"] == "np@example.org"
    assert "password" not in str(body) and "hash" not in str(body)
    [event] = audit_events("user_created")
    assert event.actor_user_id == admin_login.user.id and event.subject_id == str(body["id"])
    # Usernames are case-insensitive and trimmed.
    login = client.post(
        "/api/auth/login", json={"username": " NEW.Person ", "password": "long enough pw"}
    )
    assert login.status_code == 200


def test_admin_creates_another_admin(client: FlaskClient, admin_login: SignedIn) -> None:
    response = client.post(
        USERS,
        json={"username": "second_admin", "password": "long enough pw", "role": "admin"},
        headers=admin_login.headers,
    )
    assert response.status_code == 201 and response.get_json()["role"] == "admin"


@pytest.mark.parametrize(
    ("field", "code"), [("username", "username_taken"), ("email", "email_taken")]
)
def test_duplicate_username_or_email_is_409_and_writes_nothing(
    client: FlaskClient, admin_login: SignedIn, field: str, code: str
) -> None:
    make_user(username="taken", email="taken@example.org")
    body = {"username": "fresh", "password": "long enough pw", "email": "fresh@example.org"}
    body[field] = {"username": "TAKEN", "email": "taken@example.org"}[field]
    before = table_rows()

    response = client.post(USERS, json=body, headers=admin_login.headers)

    assert_error(response, 409, code)
    assert_unchanged(before)


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": "long enough pw"},
        {"username": "fine", "password": "short"},
        {"username": "fine", "password": "long enough pw", "role": "root"},
        {"username": "fine", "password": "long enough pw", "email": "not-an-email"},
        {"username": "fine", "password": "long enough pw", "is_admin": True},
        {"username": "fine"},
        {"username": ["fine"], "password": "long enough pw"},
    ],
)
def test_invalid_create_bodies_are_400_and_write_nothing(
    client: FlaskClient, admin_login: SignedIn, body: dict[str, Any]
) -> None:
    before = table_rows()
    assert_error(client.post(USERS, json=body, headers=admin_login.headers), 400, "invalid_payload")
    assert_unchanged(before)


def test_list_filters_and_pages(client: FlaskClient, admin_login: SignedIn) -> None:
    users = [make_user() for _ in range(4)]
    make_user("admin")
    disabled = make_user(is_active=False)

    def listed(query: str) -> dict[str, Any]:
        response = client.get(f"{USERS}{query}", headers=admin_login.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    everyone = listed("")
    assert everyone["total"] == 7 and len(everyone["items"]) == 7
    assert [u["id"] for u in everyone["items"]] == sorted(u["id"] for u in everyone["items"])
    admins = listed("?role=admin")
    assert admins["total"] == 2 and {u["role"] for u in admins["items"]} == {"admin"}
    assert [u["id"] for u in listed("?is_active=false")["items"]] == [disabled.id]
    regular_active = listed("?role=user&is_active=true")
    assert {u["id"] for u in regular_active["items"]} == {u.id for u in users}

    first, second = listed("?limit=3&offset=0"), listed("?limit=3&offset=3")
    assert first["total"] == second["total"] == 7
    assert len(first["items"]) == 3 and len(second["items"]) == 3
    assert not {u["id"] for u in first["items"]} & {u["id"] for u in second["items"]}
    assert listed("?offset=100")["items"] == []


@pytest.mark.parametrize(
    "query", ["?role=root", "?is_active=maybe", "?limit=0", "?limit=1000", "?offset=-1", "?x=1"]
)
def test_bad_list_queries_are_400(client: FlaskClient, admin_login: SignedIn, query: str) -> None:
    assert_error(client.get(f"{USERS}{query}", headers=admin_login.headers), 400)


def test_get_one_user_and_unknown_user(client: FlaskClient, admin_login: SignedIn) -> None:
    user = make_user(email="one@example.org")
    response = client.get(f"{USERS}/{user.id}", headers=admin_login.headers)
    assert response.status_code == 200
    assert response.get_json()["email"] == "one@example.org"
    assert_error(client.get(f"{USERS}/999999", headers=admin_login.headers), 404, "not_found")
    assert_error(client.get(f"{USERS}/0", headers=admin_login.headers), 404)
    assert_error(client.get(f"{USERS}/abc", headers=admin_login.headers), 404)
    assert_error(client.get(f"{USERS}/{2**63}", headers=admin_login.headers), 404)


def test_role_change_takes_effect_and_is_audited(
    client: FlaskClient, admin_login: SignedIn, user_login: SignedIn
) -> None:
    assert_error(client.get(USERS, headers=user_login.headers), 403)

    url = f"{USERS}/{user_login.user.id}"
    response = client.patch(url, json={"role": "admin"}, headers=admin_login.headers)

    assert response.status_code == 200 and response.get_json()["role"] == "admin"
    [event] = audit_events("role_changed")
    assert event.actor_user_id == admin_login.user.id
    assert event.subject_id == str(user_login.user.id)
    assert event.payload == {"from": "user", "to": "admin"}
    # Roles are read per request: the promoted user's existing token is an admin's now.
    assert client.get(USERS, headers=user_login.headers).status_code == 200

    client.patch(url, json={"role": "user"}, headers=admin_login.headers)
    assert len(audit_events("role_changed")) == 2
    assert_error(client.get(USERS, headers=user_login.headers), 403)


def test_disabling_ends_the_users_sessions_and_blocks_login(
    client: FlaskClient, admin_login: SignedIn, user_login: SignedIn
) -> None:
    second = sign_in(client, user_login.user)
    url = f"{USERS}/{user_login.user.id}"

    response = client.patch(url, json={"is_active": False}, headers=admin_login.headers)

    assert response.status_code == 200 and response.get_json()["is_active"] is False
    assert_error(client.get("/api/auth/me", headers=user_login.headers), 401)
    assert_error(client.get("/api/auth/me", headers=second.headers), 401)
    refresh = client.post("/api/auth/refresh", json={"refresh_token": second.refresh_token})
    assert_error(refresh, 401)
    statuses = db.session.scalars(
        sa.select(UserSession.termination_reason).where(UserSession.user_id == user_login.user.id)
    ).all()
    assert statuses == ["account_disabled", "account_disabled"]
    [event] = audit_events("user_disabled")
    assert event.actor_user_id == admin_login.user.id
    assert event.subject_id == str(user_login.user.id)
    assert len(audit_events("session_terminated")) == 2
    login = client.post(
        "/api/auth/login", json={"username": user_login.user.username, "password": TEST_PASSWORD}
    )
    assert_error(login, 403, "account_disabled")

    enabled = client.patch(url, json={"is_active": True}, headers=admin_login.headers)
    assert enabled.status_code == 200 and enabled.get_json()["is_active"] is True
    assert len(audit_events("user_enabled")) == 1
    assert sign_in(client, user_login.user).access_token


@pytest.mark.parametrize("body", [{"role": "user"}, {"is_active": False}])
def test_admin_cannot_demote_or_disable_themselves(
    client: FlaskClient, admin_login: SignedIn, body: dict[str, Any]
) -> None:
    before = table_rows()
    response = client.patch(
        f"{USERS}/{admin_login.user.id}", json=body, headers=admin_login.headers
    )
    assert_error(response, 409, "self_change")
    assert_unchanged(before)
    assert client.get(USERS, headers=admin_login.headers).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"role": None}, {"role": "root"}, {"is_active": "false"}, {"is_active": 0}, {"name": "x"}],
)
def test_invalid_patch_bodies_are_400(
    client: FlaskClient, admin_login: SignedIn, body: dict[str, Any]
) -> None:
    user = make_user()
    before = table_rows()
    response = client.patch(f"{USERS}/{user.id}", json=body, headers=admin_login.headers)
    assert_error(response, 400, "invalid_payload")
    assert_unchanged(before)


ENDPOINTS = [
    ("POST", USERS, {"username": "someone", "password": "long enough pw"}),
    ("GET", USERS, None),
    ("GET", f"{USERS}/{{id}}", None),
    ("PATCH", f"{USERS}/{{id}}", {"role": "admin"}),
    ("PATCH", f"{USERS}/{{id}}", {"is_active": False}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_is_403_for_a_user_and_401_without_token(
    client: FlaskClient,
    user_login: SignedIn,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    url = path.format(id=user_login.user.id)
    users_before = count(User)
    before = table_rows()

    as_user = client.open(url, method=method, json=body, headers=user_login.headers)
    anonymous = client.open(url, method=method, json=body)
    forged = client.open(url, method=method, json=body, headers={"Authorization": "Bearer x.y.z"})

    assert_error(as_user, 403, "forbidden")
    assert_error(anonymous, 401)
    assert_error(forged, 401)
    # Nothing changes but the audit trail, which records the refused privileged action.
    assert_unchanged(before, except_tables=("audit_events",))
    assert count(User) == users_before
    [denied] = audit_events("access_denied")
    assert denied.actor_user_id == user_login.user.id
    assert denied.payload["method"] == method and denied.payload["aggregated"] is True
