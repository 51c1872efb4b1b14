"""Bad input that SQLite stores but PostgreSQL refuses (NUL characters, over-long values)
must be a 4xx or be cleaned before it reaches the database: never a 500."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from tests.checks import assert_error, assert_unchanged, table_rows
from tests.conftest import TEST_PASSWORD, SignedIn, make_user, sign_in


@pytest.fixture
def admin(client: FlaskClient) -> SignedIn:
    assert db.engine.dialect.name == "postgresql"
    return sign_in(client, make_user("admin"))


@pytest.mark.parametrize("fingerprint", ["abc\x00defgh", "tab\tseparated", "del\x7fdelete"])
def test_control_characters_in_the_device_fingerprint_are_400(
    client: FlaskClient, fingerprint: str
) -> None:
    user = make_user()
    before = table_rows()
    response = client.post(
        "/api/auth/login",
        json={
            "username": user.username,
            "password": TEST_PASSWORD,
            "device_fingerprint": fingerprint,
        },
    )
    assert_error(response, 400, "invalid_payload")
    assert_unchanged(before)


@pytest.mark.parametrize("email", ["a\x00b@example.org", "ab@exa\x00mple.org", "a@b.c\x00"])
def test_nul_in_an_email_is_400(client: FlaskClient, admin: SignedIn, email: str) -> None:
    before = table_rows()
    response = client.post(
        "/api/admin/users",
        json={"username": "nul_mail", "password": "long enough pw", "email": email},
        headers=admin.headers,
    )
    assert_error(response, 400, "invalid_payload")
    assert_unchanged(before)


def test_control_characters_are_dropped_from_the_stored_user_agent(client: FlaskClient) -> None:
    user = make_user()
    response = client.post(
        "/api/auth/login",
        json={"username": user.username, "password": TEST_PASSWORD},
        headers={"User-Agent": "Agent\x00/1.0\x01 (X11)" + "x" * 600},
    )
    assert response.status_code == 200, response.get_json()
    me = client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {response.get_json()['access_token']}"}
    )
    stored = me.get_json()["session"]["user_agent"]
    assert stored.startswith("Agent/1.0 (X11)") and len(stored) == 512


@pytest.mark.parametrize("forwarded", ["x" * 100, "not-an-ip\x00", "999.1.1.1"])
def test_a_forged_forwarded_address_is_not_stored_verbatim(
    base_config: dict, forwarded: str
) -> None:
    """With PROXY_FIX_X_FOR the address comes from X-Forwarded-For, i.e. from the client."""
    from app import create_app

    app = create_app({**base_config, "PROXY_FIX_X_FOR": 1})
    with app.app_context():
        user = make_user()
        client = app.test_client()
        response = client.post(
            "/api/auth/login",
            json={"username": user.username, "password": TEST_PASSWORD},
            headers={"X-Forwarded-For": forwarded},
        )
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["session_id"]
        db.session.remove()
