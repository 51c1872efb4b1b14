"""The authentication flow against the real PostgreSQL and Redis."""

from __future__ import annotations

from flask.testing import FlaskClient

from app.extensions import db
from tests.conftest import make_user, sign_in


def test_login_and_terminated_session_on_postgres(client: FlaskClient) -> None:
    assert db.engine.dialect.name == "postgresql"
    user = make_user()
    signed = sign_in(client, user)
    assert client.get("/api/auth/me", headers=signed.headers).status_code == 200
    deleted = client.delete(f"/api/sessions/{signed.session_id}", headers=signed.headers)
    assert deleted.status_code == 200
    assert deleted.get_json()["status"] == "terminated"
    assert client.get("/api/auth/me", headers=signed.headers).status_code == 401


def test_health_reports_each_dependency(client: FlaskClient) -> None:
    body = client.get("/api/health").get_json()
    assert body["checks"]["database"] == {**body["checks"]["database"], "ok": True}
    assert body["checks"]["database"]["backend"] == "postgresql"
    assert body["checks"]["redis"]["ok"] is True
