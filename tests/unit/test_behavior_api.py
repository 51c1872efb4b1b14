"""REST for a user's own behavioural data and the admin equivalents: who may see and
delete what, and bad input."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import BehavioralModel, BehavioralSample
from app.services.behavior.keystroke_features import fixed_text_vectors
from app.services.behavior.mouse_features import mouse_actions
from app.services.cache_service import cache_service
from app.tasks import ml_tasks
from tests.behavior_telemetry import batches, new_session, store
from tests.checks import assert_error, assert_unchanged, audit_events, table_rows
from tests.conftest import SignedIn, make_user, sign_in

ME = "/api/behavior/me"


def admin_path(user_id: int | str) -> str:
    return f"/api/admin/users/{user_id}/behavior"


def enrol(user_id: int, count: int = 20) -> None:
    store(user_id, new_session(user_id), batches(user_id, count))
    ml_tasks.train_user_behavioral_model(user_id)


def rows_of(model: type, user_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(model).where(model.user_id == user_id)
    )


def test_a_user_sees_their_enrolment_state_and_model_versions(
    client: FlaskClient, user_login: SignedIn
) -> None:
    enrol(user_login.user_id)
    other = make_user()
    store(other.id, new_session(other.id), batches(9, 5))

    response = client.get(ME, headers=user_login.headers)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["user_id"] == user_login.user_id and body["batches"] == 20
    keystroke, mouse = body["kinds"]["keystroke"], body["kinds"]["mouse"]
    assert keystroke["samples"] == 100 and keystroke["needed"] == 100
    assert keystroke["enrolled"] is True and keystroke["active_version"] == 1
    [version] = keystroke["versions"]
    assert version["active"] and version["metrics"]["samples"] == 100
    assert "parameters" not in version  # the template itself is not shown
    assert mouse == {
        "samples": 0,
        "needed": 500,
        "enrolled": False,
        "active_version": None,
        "versions": [],
    }


def test_a_new_user_is_still_enrolling(client: FlaskClient, user_login: SignedIn) -> None:
    store(user_login.user_id, new_session(user_login.user_id), batches(3, 2))
    body = client.get(ME, headers=user_login.headers).get_json()
    assert body["kinds"]["keystroke"]["samples"] == 10
    assert body["kinds"]["keystroke"]["enrolled"] is False


def test_a_user_deletes_their_data_and_only_theirs(
    client: FlaskClient, user_login: SignedIn
) -> None:
    uid = user_login.user_id
    enrol(uid)
    other = make_user()
    enrol(other.id)
    assert cache_service.get_behavioral_model(uid) is not None

    response = client.delete(ME, headers=user_login.headers)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"samples": 20, "models": 1}
    assert rows_of(BehavioralSample, uid) == 0 and rows_of(BehavioralModel, uid) == 0
    assert cache_service.get_behavioral_model(uid) is None
    assert rows_of(BehavioralSample, other.id) == 20 and rows_of(BehavioralModel, other.id) == 1
    assert cache_service.get_behavioral_model(other.id) is not None
    [event] = audit_events("behavior_data_deleted")
    assert event.actor_user_id == uid and event.subject_id == str(uid)
    after = client.get(ME, headers=user_login.headers).get_json()
    assert after["batches"] == 0 and after["kinds"]["keystroke"]["versions"] == []


def test_an_admin_reads_and_deletes_any_users_data(
    client: FlaskClient, admin_login: SignedIn
) -> None:
    target = make_user()
    enrol(target.id)

    state = client.get(admin_path(target.id), headers=admin_login.headers)
    assert state.status_code == 200 and state.get_json()["user_id"] == target.id
    assert state.get_json()["kinds"]["keystroke"]["active_version"] == 1

    deleted = client.delete(admin_path(target.id), headers=admin_login.headers)
    assert deleted.status_code == 200 and deleted.get_json() == {"samples": 20, "models": 1}
    assert rows_of(BehavioralSample, target.id) == 0
    [event] = audit_events("behavior_data_deleted")
    assert event.actor_user_id == admin_login.user_id and event.subject_id == str(target.id)


@pytest.mark.parametrize("method", ["get", "delete"])
def test_anonymous_and_bad_tokens_are_refused(app: Flask, client: FlaskClient, method: str) -> None:
    target = make_user()
    enrol(target.id)
    before = table_rows()
    for path in (ME, admin_path(target.id)):
        assert_error(getattr(client, method)(path), 401)
        bad = {"Authorization": "Bearer not-a-token"}
        assert_error(getattr(client, method)(path, headers=bad), 401)
    assert_unchanged(before)


@pytest.mark.parametrize("method", ["get", "delete"])
def test_a_user_cannot_reach_another_users_data(
    client: FlaskClient, user_login: SignedIn, method: str
) -> None:
    other = make_user()
    enrol(other.id)
    before = table_rows()

    response = getattr(client, method)(admin_path(other.id), headers=user_login.headers)

    assert_error(response, 403, "forbidden")
    assert_unchanged(before, except_tables={"audit_events"})  # the refusal is audited
    assert rows_of(BehavioralSample, other.id) == 20


def test_the_service_answers_another_users_id_as_unknown(app: Flask, user_login: SignedIn) -> None:
    from app.errors import NotFound
    from app.services.behavior import enrolment

    other = make_user()
    actor = user_login.user
    with pytest.raises(NotFound) as foreign:
        enrolment.enrolment_state(actor, other.id)
    with pytest.raises(NotFound) as unknown:
        enrolment.enrolment_state(actor, 424242)
    assert str(foreign.value) == str(unknown.value)
    with pytest.raises(NotFound):
        enrolment.delete_behavior_data(actor, other.id, "127.0.0.1")


@pytest.mark.parametrize("method", ["get", "delete"])
def test_an_unknown_user_is_404_and_changes_nothing(
    client: FlaskClient, admin_login: SignedIn, method: str
) -> None:
    before = table_rows()
    response = getattr(client, method)(admin_path(424242), headers=admin_login.headers)
    assert_error(response, 404, "not_found")
    assert_unchanged(before)


@pytest.mark.parametrize("user_id", ["0", "-1", "abc", "1.5", "99999999999"])
def test_malformed_ids_match_no_route_and_change_nothing(
    client: FlaskClient, admin_login: SignedIn, user_id: str
) -> None:
    before = table_rows()
    assert_error(client.get(admin_path(user_id), headers=admin_login.headers), 404)
    # Werkzeug's router answers some of these 405 (a converter refused the value after
    # the path matched), others 404: either way, the error envelope and nothing deleted.
    response = client.delete(admin_path(user_id), headers=admin_login.headers)
    assert_error(response, response.status_code)
    assert response.status_code in (404, 405)
    assert_unchanged(before)


def test_the_routes_are_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"get", "delete"} <= set(paths["/api/behavior/me"])
    assert {"get", "delete"} <= set(paths["/api/admin/users/{user_id}/behavior"])


def test_another_signed_in_user_sees_only_their_own(client: FlaskClient) -> None:
    first, second = make_user(), make_user()
    enrol(first.id)
    login = sign_in(client, second)
    body = client.get(ME, headers=login.headers).get_json()
    assert body["user_id"] == second.id and body["batches"] == 0


def test_the_enrolment_state_never_rereads_the_telemetry(
    client: FlaskClient, user_login: SignedIn, statements: list[str]
) -> None:
    """Counting is done as a batch is stored: showing the state must not load every
    batch's events into the web process (a user could make that arbitrarily heavy)."""
    uid = user_login.user_id
    store(uid, new_session(uid), batches(4, 6, style=1))
    stored = db.session.scalars(sa.select(BehavioralSample).where(BehavioralSample.user_id == uid))
    expected = {
        "keystroke": sum(
            len(fixed_text_vectors(s.events["keystrokes"], "password")) for s in stored
        ),
    }
    statements.clear()

    body = client.get(ME, headers=user_login.headers).get_json()

    assert body["kinds"]["keystroke"]["samples"] == expected["keystroke"] == 30
    assert body["kinds"]["mouse"]["samples"] > 0
    reads = [s for s in statements if "behavioral_samples" in s]
    assert reads and not any("behavioral_samples.events" in s for s in reads), reads


def test_a_batch_records_what_it_gives_each_model_as_it_is_stored(
    user_login: SignedIn,
) -> None:
    uid = user_login.user_id
    [batch] = batches(5, 1, style=2, actions=12)
    store(uid, new_session(uid), [batch])

    sample = db.session.scalars(
        sa.select(BehavioralSample).where(BehavioralSample.user_id == uid)
    ).one()

    actions = len(mouse_actions(batch["mouseMovements"], batch["clicks"]))
    assert actions > 0
    assert sample.features == {
        "usable": {
            "keystroke": len(fixed_text_vectors(batch["keystrokes"], "password")),
            "mouse": actions,
        }
    }
