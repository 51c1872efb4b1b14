"""REST of risk: who may read which session's and user's assessments, and bad input."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from app.database import utcnow
from app.extensions import db
from app.models import UserSession
from app.services.risk.assessments import AssessmentWriter
from tests.checks import assert_error, audit_events
from tests.conftest import SignedIn, make_user, sign_in
from tests.risk_support import assessment_for


def _scored(signed: SignedIn, *points: float) -> None:
    """Store one assessment of the signed-in session per value, a second apart."""
    session = db.session.get(UserSession, uuid.UUID(signed.session_id))
    writer = AssessmentWriter(max_rows=100, max_age=3600)
    start = utcnow() - timedelta(minutes=1)
    for n, value in enumerate(points):
        writer.add(assessment_for(session, value, at=start + timedelta(seconds=n)))
    writer.flush()


def test_owner_sees_the_current_assessment_and_history(
    client: FlaskClient, user_login: SignedIn
) -> None:
    _scored(user_login, 10.0, 72.0, 40.0)
    response = client.get(f"/api/risk/sessions/{user_login.session_id}", headers=user_login.headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["risk_score"], body["risk_level"], body["status"]) == (40.0, "medium", "active")
    assert [item["score"] for item in body["history"]] == [40.0, 72.0, 10.0]
    current = body["current"]
    assert current == body["history"][0]
    assert current["session_id"] == user_login.session_id
    assert current["factors"][0] == {"name": "new_network", "contribution": 40.0, "detail": "test"}
    assert [f["name"] for f in current["factors"]] == ["new_network", "behaviour_anomaly"]
    assert current["decision"]["action"] == "allow"
    assert body["history"][1]["decision"]["action"] == "step_up"
    assert current["behaviour"] == {"status": "no_model", "model_version": None, "anomaly": None}

    limited = client.get(
        f"/api/risk/sessions/{user_login.session_id}?limit=1", headers=user_login.headers
    ).get_json()
    assert [item["score"] for item in limited["history"]] == [40.0]


def test_a_session_never_scored_has_no_current_assessment(
    client: FlaskClient, user_login: SignedIn
) -> None:
    body = client.get(
        f"/api/risk/sessions/{user_login.session_id}", headers=user_login.headers
    ).get_json()
    assert body["current"] is None and body["history"] == []


def test_another_users_session_answers_exactly_like_an_unknown_one(
    client: FlaskClient, user_login: SignedIn
) -> None:
    victim = sign_in(client, make_user())
    _scored(victim, 50.0)
    theirs = client.get(f"/api/risk/sessions/{victim.session_id}", headers=user_login.headers)
    unknown = client.get(f"/api/risk/sessions/{uuid.uuid4()}", headers=user_login.headers)
    assert_error(theirs, 404, "not_found")
    assert theirs.get_json() == unknown.get_json()
    assert theirs.status_code == unknown.status_code
    # Only the probe of an existing session is a refused action, and it is audited.
    [refusal] = audit_events("access_denied")
    assert refusal.payload["code"] == "not_found"


def test_admin_reads_any_session_and_any_users_risk(
    client: FlaskClient, admin_login: SignedIn
) -> None:
    alice = make_user()
    first, second = sign_in(client, alice), sign_in(client, alice)
    _scored(first, 20.0)
    _scored(second, 65.0, 90.0)

    session = client.get(f"/api/risk/sessions/{first.session_id}", headers=admin_login.headers)
    assert session.status_code == 200 and session.get_json()["current"]["score"] == 20.0

    response = client.get(f"/api/admin/users/{alice.id}/risk", headers=admin_login.headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["user_id"], body["username"]) == (alice.id, alice.username)
    assert [(a["session_id"], a["score"]) for a in body["assessments"]] == [
        (second.session_id, 90.0),
        (second.session_id, 65.0),
        (first.session_id, 20.0),
    ]
    two = client.get(f"/api/admin/users/{alice.id}/risk?limit=2", headers=admin_login.headers)
    assert len(two.get_json()["assessments"]) == 2


def test_users_risk_is_admin_only(client: FlaskClient, user_login: SignedIn) -> None:
    own = client.get(f"/api/admin/users/{user_login.user_id}/risk", headers=user_login.headers)
    assert_error(own, 403, "forbidden")


def test_admin_asking_for_an_unknown_user_is_404(
    client: FlaskClient, admin_login: SignedIn
) -> None:
    assert_error(client.get("/api/admin/users/999999/risk", headers=admin_login.headers), 404)


@pytest.mark.parametrize("path", ["/api/risk/sessions/{session}", "/api/admin/users/{user}/risk"])
def test_anonymous_and_bad_tokens_are_401(
    client: FlaskClient, user_login: SignedIn, path: str
) -> None:
    url = path.format(session=user_login.session_id, user=user_login.user_id)
    assert_error(client.get(url), 401)
    assert_error(client.get(url, headers={"Authorization": "Bearer not-a-token"}), 401)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=abc", "limit=-1", "since=1", "limit=1&limit=2"]
)
def test_bad_query_parameters_are_400(
    client: FlaskClient, admin_login: SignedIn, query: str
) -> None:
    for url in (
        f"/api/risk/sessions/{admin_login.session_id}?{query}",
        f"/api/admin/users/{admin_login.user_id}/risk?{query}",
    ):
        assert_error(client.get(url, headers=admin_login.headers), 400, "invalid_payload")


def test_a_malformed_session_id_is_not_found(client: FlaskClient, user_login: SignedIn) -> None:
    assert_error(client.get("/api/risk/sessions/not-a-uuid", headers=user_login.headers), 404)


def test_the_routes_are_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "limit" in str(paths["/api/risk/sessions/{session_id}"]["get"]["parameters"])
    assert "403" in paths["/api/admin/users/{user_id}/risk"]["get"]["responses"]
