"""The audit trail's REST API: browsing events and batches, queued tasks, proofs.

Runs on standalone's stack: SQLite, the local IPFS store, the embedded chain, the embedded
Redis as result backend and kombu's in-memory broker.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import Flask, current_app
from flask.testing import FlaskClient
from kombu.exceptions import OperationalError
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import AuditBatch, AuditEvent
from app.redis_client import get_redis_client
from app.services import task_sender
from app.services.audit.anchoring import chain_reader, sync
from app.services.audit.events import record_event
from app.services.audit.proof import verify_proof
from tests.checks import assert_error
from tests.conftest import SignedIn, make_user, sign_in

EVENTS = "/api/admin/audit/events"
BATCHES = "/api/admin/audit/batches"
VERIFICATIONS = "/api/admin/audit/verifications"
ANCHOR = "/api/admin/audit/anchor"
TASKS = "/api/admin/audit/tasks"
TASK_KEYS = "zt:v1:audit_task:*"
SYNC_TASK = "app.tasks.blockchain_tasks.sync_audit_trail"
VERIFY_TASK = "app.tasks.blockchain_tasks.verify_audit_integrity"


@pytest.fixture
def client(audit_app: Flask) -> FlaskClient:
    return audit_app.test_client()


# conftest's sign-ins, on this module's client (the anchoring app), under shorter names.
@pytest.fixture
def admin(admin_login: SignedIn) -> SignedIn:
    return admin_login


@pytest.fixture
def user(user_login: SignedIn) -> SignedIn:
    return user_login


def record(event_type: str = "test_event", **fields: Any) -> int:
    event_id = record_event(event_type, **fields).id
    db.session.commit()
    return event_id


def own_login_event(who: SignedIn) -> int:
    event_id = db.session.scalar(
        sa.select(sa.func.max(AuditEvent.id)).where(
            AuditEvent.event_type == "login_succeeded",
            AuditEvent.actor_user_id == who.user.id,
        )
    )
    assert event_id is not None
    return event_id


def listed_events(client: FlaskClient, who: SignedIn, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"{EVENTS}?{query}", headers=who.headers)
    assert response.status_code == 200, response.get_json()
    events: list[dict[str, Any]] = response.get_json()["events"]
    return events


def event_ids(client: FlaskClient, who: SignedIn, query: str = "") -> list[int]:
    return [event["id"] for event in listed_events(client, who, query)]


def take_queued_tasks() -> list[tuple[str, str, dict[str, Any]]]:
    """Every message waiting in kombu's in-memory blockchain_queue, removed from it:
    (task name, task id, kwargs)."""
    taken = []
    with task_sender.client().connection_for_read() as conn:
        channel = conn.default_channel
        while (message := channel.basic_get("blockchain_queue", no_ack=True)) is not None:
            _args, kwargs, _embed = message.decode()
            taken.append((message.headers["task"], message.headers["id"], kwargs))
    return taken


def assert_queued_and_pending(
    client: FlaskClient,
    who: SignedIn,
    response: TestResponse,
    task_name: str,
    kwargs: dict[str, Any],
) -> None:
    """``response`` is a 202 for a task now waiting in the broker, whose state its
    status_url answers: PENDING, as no worker runs here."""
    assert response.status_code == 202, response.get_json()
    queued = response.get_json()
    task_id = queued["task_id"]
    assert str(uuid.UUID(task_id)) == task_id
    assert queued == {"task_id": task_id, "status_url": f"{TASKS}/{task_id}"}
    assert take_queued_tasks() == [(task_name, task_id, kwargs)]
    # Remembered as long as the result backend keeps the task's result.
    ttl = get_redis_client().ttl(f"zt:v1:audit_task:{task_id}")
    assert 0 < ttl <= current_app.config["CELERY_RESULT_EXPIRES"]
    state = client.get(queued["status_url"], headers=who.headers)
    assert state.status_code == 200
    assert state.get_json() == {"task_id": task_id, "state": "PENDING", "result": None}


# --- events ------------------------------------------------------------------------------


def test_events_filter_by_their_fields(client: FlaskClient, admin: SignedIn) -> None:
    a = record("test_alpha", actor_user_id=7, subject_type="doc", subject_id="d1")
    b = record("test_beta", actor_user_id=8, subject_type="doc", subject_id="d2")
    c = record("test_alpha", actor_user_id=8, subject_type="file", subject_id="d1")

    assert event_ids(client, admin, "event_type=test_alpha") == [c, a]
    assert event_ids(client, admin, "actor_user_id=8") == [c, b]
    assert event_ids(client, admin, "subject_type=doc") == [b, a]
    assert event_ids(client, admin, "subject_id=d1&event_type=test_alpha") == [c, a]
    assert event_ids(client, admin, "event_type=nothing_like_it") == []


def test_events_filter_by_time_window(client: FlaskClient, admin: SignedIn) -> None:
    ids = [record("test_time") for _ in range(3)]
    for day, event_id in enumerate(ids, start=1):
        # Only the filter is under test here; the changed timestamps break the events' hashes.
        db.session.get(AuditEvent, event_id).created_at = datetime(2025, 1, day, tzinfo=UTC)
    db.session.commit()

    def window(**bounds: str) -> list[int]:
        return event_ids(client, admin, urlencode({"event_type": "test_time", **bounds}))

    assert window(since="2025-01-02T00:00:00Z") == [ids[2], ids[1]]
    assert window(until="2025-01-02") == [ids[0]]  # no offset: UTC; until is exclusive
    assert window(since="2025-01-01T12:00:00+02:00", until="2025-01-03T00:00:00Z") == [ids[1]]
    assert window(since="2025-01-04T00:00:00") == []


def test_events_filter_by_batch_and_anchoring(client: FlaskClient, admin: SignedIn) -> None:
    login = own_login_event(admin)
    first, second = record(), record()
    sync()  # one batch: the login and the two events
    batch_id = db.session.get(AuditEvent, first).batch_id
    pending = record()

    assert event_ids(client, admin, f"batch_id={batch_id}") == [second, first, login]
    assert event_ids(client, admin, "anchored=true") == [second, first, login]
    assert event_ids(client, admin, "anchored=false") == [pending]
    status = {event["id"]: event["anchor_status"] for event in listed_events(client, admin)}
    assert status == {
        pending: "unbatched",
        second: "anchored",
        first: "anchored",
        login: "anchored",
    }


def test_events_page_newest_first_by_before_id(client: FlaskClient, admin: SignedIn) -> None:
    ids = [record("test_page") for _ in range(5)]

    page = client.get(f"{EVENTS}?event_type=test_page&limit=2", headers=admin.headers).get_json()
    assert [e["id"] for e in page["events"]] == [ids[4], ids[3]]
    assert page["next_before_id"] == ids[3]
    page = client.get(
        f"{EVENTS}?event_type=test_page&limit=2&before_id={ids[3]}", headers=admin.headers
    ).get_json()
    assert [e["id"] for e in page["events"]] == [ids[2], ids[1]]
    page = client.get(
        f"{EVENTS}?event_type=test_page&limit=2&before_id={page['next_before_id']}",
        headers=admin.headers,
    ).get_json()
    assert [e["id"] for e in page["events"]] == [ids[0]]
    assert page["next_before_id"] is None


def test_an_event_lists_every_field(client: FlaskClient, admin: SignedIn) -> None:
    event_id = record("test_fields", actor_user_id=3, ip_address="10.0.0.1", payload={"k": 1})

    [event] = listed_events(client, admin, "event_type=test_fields")

    stored = db.session.get(AuditEvent, event_id)
    assert event == {
        "id": event_id,
        "created_at": stored.created_at.isoformat(),
        "event_type": "test_fields",
        "actor_user_id": 3,
        "subject_type": None,
        "subject_id": None,
        "ip_address": "10.0.0.1",
        "payload": {"k": 1},
        "payload_cid": None,
        "prev_hash": stored.prev_hash,
        "event_hash": stored.event_hash,
        "batch_id": None,
        "anchor_status": "unbatched",
    }


@pytest.mark.parametrize(
    "query",
    [
        "colour=red",
        "limit=0",
        "limit=501",
        "limit=ten",
        "before_id=0",
        "actor_user_id=-1",
        "event_type=Not%20A%20Type",
        "since=yesterday",
        "since=1700000000",
        "until=2025-13-01",
        "since=2025-02-01&until=2025-01-01",
        "anchored=maybe",
        "batch_id=99999999999",
        "limit=1&limit=2",
    ],
)
def test_bad_event_queries_are_400(client: FlaskClient, admin: SignedIn, query: str) -> None:
    assert_error(client.get(f"{EVENTS}?{query}", headers=admin.headers), 400)


def test_a_large_payload_comes_back_from_ipfs(
    client: FlaskClient, admin: SignedIn, audit_app: Flask
) -> None:
    big = {"blob": "y" * (audit_app.config["AUDIT_PAYLOAD_INLINE_MAX_BYTES"] + 100), "n": 1}
    event_id = record("test_large", payload=big)

    response = client.get(f"{EVENTS}/{event_id}", headers=admin.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert body["payload"] == big and body["payload_cid"]
    assert "payload_error" not in body
    [listed] = listed_events(client, admin, "event_type=test_large")
    assert listed["payload"] is None and listed["payload_cid"] == body["payload_cid"]


def test_an_unreadable_payload_is_reported_not_failed(
    client: FlaskClient, admin: SignedIn, audit_app: Flask, tmp_path: Path
) -> None:
    big = {"blob": "z" * (audit_app.config["AUDIT_PAYLOAD_INLINE_MAX_BYTES"] + 1)}
    event_id = record("test_large", payload=big)
    audit_app.config["IPFS_BLOCKSTORE_DIR"] = str(tmp_path)  # an empty store

    response = client.get(f"{EVENTS}/{event_id}", headers=admin.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert body["payload"] is None and body["payload_cid"] in body["payload_error"]


def test_an_unknown_event_is_404(client: FlaskClient, admin: SignedIn) -> None:
    assert_error(client.get(f"{EVENTS}/999999", headers=admin.headers), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [EVENTS, f"{EVENTS}/1", BATCHES, f"{BATCHES}/1", f"{TASKS}/{uuid.uuid4()}"],
)
def test_admin_routes_refuse_users_and_anonymous_callers(
    client: FlaskClient, user: SignedIn, path: str
) -> None:
    assert_error(client.get(path, headers=user.headers), 403, "forbidden")
    assert_error(client.get(path), 401)


@pytest.mark.parametrize("path", [VERIFICATIONS, ANCHOR])
def test_only_admins_queue_tasks(client: FlaskClient, user: SignedIn, path: str) -> None:
    take_queued_tasks()
    assert_error(client.post(path, json={}, headers=user.headers), 403, "forbidden")
    assert_error(client.post(path, json={}), 401)
    assert_error(client.post(path, headers=user.headers), 403, "forbidden")
    assert take_queued_tasks() == []


# --- batches -----------------------------------------------------------------------------


def test_batches_show_their_anchor_and_never_the_raw_transaction(
    client: FlaskClient, admin: SignedIn
) -> None:
    record()
    sync()

    body = client.get(BATCHES, headers=admin.headers).get_json()

    [batch] = body["batches"]
    assert body["next_before_id"] is None
    assert batch["status"] == "anchored"
    assert batch["tx_hash"].startswith("0x") and isinstance(batch["block_number"], int)
    assert batch["merkle_root"] and batch["manifest_cid"] and batch["anchored_at"]
    assert "raw_tx" not in batch and "tx_nonce" not in batch
    assert batch["replaced_tx_hashes"] is None and batch["anchor_history"] is None
    one = client.get(f"{BATCHES}/{batch['id']}", headers=admin.headers)
    assert one.status_code == 200 and one.get_json() == batch
    assert client.get(f"{BATCHES}?status=pending", headers=admin.headers).get_json() == {
        "batches": [],
        "next_before_id": None,
    }


def test_batches_page_by_before_id(client: FlaskClient, admin: SignedIn, audit_app: Flask) -> None:
    audit_app.config["AUDIT_BATCH_MAX_EVENTS"] = 1
    for _ in range(3):
        record()
    sync()  # four batches: the admin's login and the three events
    ids = sorted(db.session.scalars(sa.select(AuditBatch.id)))
    assert len(ids) == 4

    page = client.get(f"{BATCHES}?limit=2", headers=admin.headers).get_json()
    assert [b["id"] for b in page["batches"]] == [ids[3], ids[2]]
    assert page["next_before_id"] == ids[2]
    rest = client.get(f"{BATCHES}?limit=2&before_id={ids[2]}", headers=admin.headers).get_json()
    assert [b["id"] for b in rest["batches"]] == [ids[1], ids[0]]
    assert rest["next_before_id"] is None


@pytest.mark.parametrize("query", ["status=lost", "limit=501", "before_id=x", "other=1"])
def test_bad_batch_queries_are_400(client: FlaskClient, admin: SignedIn, query: str) -> None:
    assert_error(client.get(f"{BATCHES}?{query}", headers=admin.headers), 400)


def test_an_unknown_batch_is_404(client: FlaskClient, admin: SignedIn) -> None:
    assert_error(client.get(f"{BATCHES}/424242", headers=admin.headers), 404, "not_found")


# --- proofs ------------------------------------------------------------------------------


def test_a_proof_is_409_until_anchored_then_verifies_on_chain(
    client: FlaskClient, admin: SignedIn
) -> None:
    event_id = record("test_proved", payload={"what": "matters"})
    url = f"/api/audit/events/{event_id}/proof"

    assert_error(client.get(url, headers=admin.headers), 409, "not_anchored")
    sync()
    response = client.get(url, headers=admin.headers)

    assert response.status_code == 200
    assert "Content-Disposition" not in response.headers
    proof = response.get_json()
    assert proof["event"]["id"] == event_id
    report = verify_proof(proof, chain_reader())
    assert report["valid"] is True, report["checks"]
    download = client.get(f"{url}?download=1", headers=admin.headers)
    assert download.get_json() == proof
    assert download.headers["Content-Disposition"] == (
        f"attachment; filename=audit-event-{event_id}-proof.json"
    )


def test_a_user_gets_proofs_of_their_own_events_only(client: FlaskClient, admin: SignedIn) -> None:
    alice = sign_in(client, make_user("user"))
    bob = sign_in(client, make_user("user"))
    sync()

    mine = client.get(f"/api/audit/events/{own_login_event(alice)}/proof", headers=alice.headers)
    assert mine.status_code == 200
    assert mine.get_json()["event"]["actor_user_id"] == alice.user.id
    # Another user's event answers as an unknown one would: its existence is not revealed.
    theirs = f"/api/audit/events/{own_login_event(bob)}/proof"
    assert_error(client.get(theirs, headers=alice.headers), 404, "not_found")
    assert_error(client.get("/api/audit/events/999999/proof", headers=alice.headers), 404)
    assert client.get(theirs, headers=admin.headers).status_code == 200
    assert_error(client.get(theirs), 401)


def test_a_users_unanchored_event_is_409_others_unanchored_404(
    client: FlaskClient, user: SignedIn
) -> None:
    other = record("test_other", actor_user_id=user.user.id + 1000)

    own = client.get(f"/api/audit/events/{own_login_event(user)}/proof", headers=user.headers)
    assert_error(own, 409, "not_anchored")
    assert_error(client.get(f"/api/audit/events/{other}/proof", headers=user.headers), 404)


def test_a_deleted_anchored_event_is_409_event_missing_and_404_to_a_plain_user(
    client: FlaskClient, admin: SignedIn, user: SignedIn
) -> None:
    sync()
    event_id = own_login_event(user)
    batch_id = db.session.get(AuditEvent, event_id).batch_id
    db.session.execute(sa.text("DELETE FROM audit_events WHERE id = :id"), {"id": event_id})
    db.session.commit()
    url = f"/api/audit/events/{event_id}/proof"

    error = assert_error(client.get(url, headers=admin.headers), 409, "event_missing")
    assert f"anchored in batch {batch_id} but is no longer stored" in error["message"]
    assert_error(client.get(url, headers=user.headers), 404, "not_found")


def test_a_tampered_batch_is_409_batch_mismatch(client: FlaskClient, admin: SignedIn) -> None:
    first, second = record(), record()
    sync()
    db.session.execute(
        sa.text("UPDATE audit_events SET event_hash = :hash WHERE id = :id"),
        {"hash": secrets.token_hex(32), "id": second},
    )
    db.session.commit()

    response = client.get(f"/api/audit/events/{first}/proof", headers=admin.headers)

    assert_error(response, 409, "batch_mismatch")


def test_an_id_never_stored_inside_an_anchored_range_is_404(
    client: FlaskClient, admin: SignedIn
) -> None:
    # An id a rolled-back transaction took: the batch's range spans it, its manifest not.
    first, skipped, last = record(), record(), record()
    db.session.execute(sa.text("DELETE FROM audit_events WHERE id = :id"), {"id": skipped})
    db.session.commit()
    sync()
    batch = db.session.get(AuditBatch, db.session.get(AuditEvent, first).batch_id)
    assert batch.status == "anchored" and batch.first_event_id < skipped < batch.last_event_id

    response = client.get(f"/api/audit/events/{skipped}/proof", headers=admin.headers)

    assert_error(response, 404, "not_found")
    assert client.get(f"/api/audit/events/{last}/proof", headers=admin.headers).status_code == 200


def test_proof_query_is_validated(client: FlaskClient, admin: SignedIn) -> None:
    url = f"/api/audit/events/{own_login_event(admin)}/proof"
    assert_error(client.get(f"{url}?download=perhaps", headers=admin.headers), 400)
    assert_error(client.get(f"{url}?format=xml", headers=admin.headers), 400)


# --- verifications -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"first_event_id": 0, "last_event_id": 1},
        {"first_event_id": 5, "last_event_id": 4},
        {"first_event_id": 1},
        {"last_event_id": 1},
        {"first_event_id": "1", "last_event_id": "2"},
        {"first_event_id": 1, "last_event_id": 2, "extra": True},
        {"first_event_id": 1, "last_event_id": 2**63},
        [1, 2],
    ],
)
def test_a_bad_verification_request_is_400_and_queues_nothing(
    client: FlaskClient, admin: SignedIn, body: Any
) -> None:
    take_queued_tasks()

    response = client.post(VERIFICATIONS, json=body, headers=admin.headers)

    assert_error(response, 400)
    assert take_queued_tasks() == []


def test_a_non_json_verification_request_is_400(client: FlaskClient, admin: SignedIn) -> None:
    response = client.post(VERIFICATIONS, data="first=1", headers=admin.headers)
    assert_error(response, 400)


@pytest.mark.parametrize(
    ("body", "kwargs"),
    [
        ({"first_event_id": 1, "last_event_id": 3}, {"first_event_id": 1, "last_event_id": 3}),
        ({}, {}),
    ],
)
def test_a_verification_is_queued_and_its_state_can_be_read(
    client: FlaskClient, admin: SignedIn, body: dict[str, Any], kwargs: Any
) -> None:
    take_queued_tasks()

    response = client.post(VERIFICATIONS, json=body, headers=admin.headers)

    assert_queued_and_pending(client, admin, response, VERIFY_TASK, kwargs)


def test_only_tasks_queued_here_can_be_read(client: FlaskClient, admin: SignedIn) -> None:
    unknown = client.get(f"{TASKS}/{uuid.uuid4()}", headers=admin.headers)
    assert_error(unknown, 404, "not_found")
    assert_error(client.get(f"{TASKS}/not-a-uuid", headers=admin.headers), 400)
    assert_error(client.get(f"{VERIFICATIONS}/{uuid.uuid4()}", headers=admin.headers), 404)


def test_a_finished_verification_shows_its_report(client: FlaskClient, admin: SignedIn) -> None:
    task_id = client.post(VERIFICATIONS, json={}, headers=admin.headers).get_json()["task_id"]
    report = {"ok": True, "events_checked": 1}
    task_sender.client().backend.store_result(task_id, report, "SUCCESS")

    body = client.get(f"{TASKS}/{task_id}", headers=admin.headers).get_json()

    assert body == {"task_id": task_id, "state": "SUCCESS", "result": report}


def test_a_failed_verification_shows_its_error(client: FlaskClient, admin: SignedIn) -> None:
    task_id = client.post(VERIFICATIONS, json={}, headers=admin.headers).get_json()["task_id"]
    task_sender.client().backend.mark_as_failure(task_id, ValueError("the range is unreadable"))

    body = client.get(f"{TASKS}/{task_id}", headers=admin.headers).get_json()

    assert body["state"] == "FAILURE" and body["result"] is None
    assert body["error"] == "the range is unreadable"


@pytest.mark.parametrize("path", [VERIFICATIONS, ANCHOR])
def test_a_broker_outage_is_503_and_leaves_no_id_behind(
    client: FlaskClient, admin: SignedIn, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(task_sender.client(), "send_task", unreachable)
    remembered = set(get_redis_client().scan_iter(TASK_KEYS))

    response = client.post(path, json={}, headers=admin.headers)

    assert_error(response, 503, "service_unavailable")
    assert set(get_redis_client().scan_iter(TASK_KEYS)) == remembered


# --- anchoring now -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"json": {}}], ids=["no body", "empty object"])
def test_anchoring_is_queued_and_its_state_can_be_read(
    client: FlaskClient, admin: SignedIn, body: dict[str, Any]
) -> None:
    take_queued_tasks()

    response = client.post(ANCHOR, headers=admin.headers, **body)

    assert_queued_and_pending(client, admin, response, SYNC_TASK, {})


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("[]", "application/json"),
        ("null", "application/json"),
        ('"now"', "application/json"),
        ('{"now": true}', "application/json"),
        ("{", "application/json"),
        ("now=1", "application/x-www-form-urlencoded"),
    ],
)
def test_a_bad_anchoring_request_is_400_and_queues_nothing(
    client: FlaskClient, admin: SignedIn, data: str, content_type: str
) -> None:
    take_queued_tasks()

    response = client.post(ANCHOR, data=data, content_type=content_type, headers=admin.headers)

    assert_error(response, 400)
    assert take_queued_tasks() == []
