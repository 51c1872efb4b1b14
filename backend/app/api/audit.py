"""The audit trail over REST: events, anchoring batches, tasks, inclusion proofs.

Admins browse the hash-chained events and the Merkle batches that anchor them, and queue
the trail's tasks: an integrity verification (``verify_audit_integrity``) or an anchoring
run now (``sync_audit_trail``), whose state both answer at ``/api/admin/audit/tasks/<id>``.
Any signed-in user may download the inclusion proof of an event they are the actor of;
admins, of any event. A proof is self-contained: anyone can check it against the chain it
names. Who may see what, and the queries and tasks, are ``services.audit.access``'s.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify, request, url_for

from app.api.auth_guard import admin_required, current_principal, login_required
from app.api.openapi_spec import describe
from app.api.serializers import batch_json, event_json
from app.api.validation import parse_json, parse_query
from app.errors import Conflict, ValidationFailed
from app.schemas.audit import (
    ID_MAX,
    AnchorRequest,
    BatchListQuery,
    EventListQuery,
    ProofQuery,
    VerificationRequest,
)
from app.services.audit import access
from app.services.audit.proof import ProofUnavailable

bp = Blueprint("audit", __name__, url_prefix="/api")

EVENT_ID = f"<int(min=1, max={ID_MAX}):event_id>"
BATCH_ID = "<int(min=1, max=2147483647):batch_id>"
QUEUED = {202: "{task_id, status_url}", 403: "Not an admin", 503: "Broker unavailable"}


def _queued(task_id: str) -> tuple[Response, int]:
    status_url = url_for(".get_task", task_id=task_id)
    return jsonify({"task_id": task_id, "status_url": status_url}), 202


@bp.get("/admin/audit/events")
@admin_required
@describe(
    "Audit events, newest first, filtered; page on with before_id=next_before_id; payloads "
    "stored on IPFS are null here, read the one event for them (admin)",
    tag="audit",
    query=EventListQuery,
    responses={200: "{events, next_before_id}", 403: "Not an admin"},
)
def get_events() -> Response:
    query = parse_query(EventListQuery)
    rows, cursor = access.list_events(access.EventFilter(**query.model_dump()))
    events = [event_json(event, status) for event, status in rows]
    return jsonify({"events": events, "next_before_id": cursor})


@bp.get(f"/admin/audit/events/{EVENT_ID}")
@admin_required
@describe(
    "One audit event, its payload read back from IPFS when stored there; an unreadable "
    "payload is null with payload_error (admin)",
    tag="audit",
    responses={200: "OK", 403: "Not an admin", 404: "Unknown event"},
)
def get_event(event_id: int) -> Response:
    detail = access.event_detail(event_id)
    body = event_json(detail.event, detail.batch_status)
    body["payload"] = detail.payload
    if detail.payload_error is not None:
        body["payload_error"] = detail.payload_error
    return jsonify(body)


@bp.get("/admin/audit/batches")
@admin_required
@describe(
    "Anchoring batches, newest first; page on with before_id=next_before_id (admin)",
    tag="audit",
    query=BatchListQuery,
    responses={200: "{batches, next_before_id}", 403: "Not an admin"},
)
def get_batches() -> Response:
    query = parse_query(BatchListQuery)
    batches, cursor = access.list_batches(query.status, query.limit, query.before_id)
    return jsonify({"batches": [batch_json(b) for b in batches], "next_before_id": cursor})


@bp.get(f"/admin/audit/batches/{BATCH_ID}")
@admin_required
@describe(
    "One anchoring batch (admin)",
    tag="audit",
    responses={200: "OK", 403: "Not an admin", 404: "Unknown batch"},
)
def get_batch(batch_id: int) -> Response:
    return jsonify(batch_json(access.batch_detail(batch_id)))


@bp.post("/admin/audit/verifications")
@admin_required
@describe(
    "Queue an integrity verification of an event range ({} = the whole trail); its state "
    "at status_url (admin)",
    tag="audit",
    request=VerificationRequest,
    responses=QUEUED,
)
def request_verification() -> tuple[Response, int]:
    body = parse_json(VerificationRequest)
    actor = current_principal().user
    return _queued(access.queue_verification(actor, body.first_event_id, body.last_event_id))


@bp.post("/admin/audit/anchor")
@admin_required
@describe(
    "Batch the pending events and anchor them now, as beat does every minute (no body or "
    "{}); its state at status_url (admin)",
    tag="audit",
    request=AnchorRequest,
    responses=QUEUED,
)
def request_anchoring() -> tuple[Response, int]:
    if request.get_data(cache=True):  # no body at all is as good as {}
        parse_json(AnchorRequest)
    return _queued(access.queue_anchoring(current_principal().user))


@bp.get("/admin/audit/tasks/<task_id>")
@admin_required
@describe(
    "State of a verification or anchoring run queued here: its result once SUCCESS, error "
    "on FAILURE (admin)",
    tag="audit",
    responses={200: "{task_id, state, result}", 400: "Not a UUID", 404: "Not queued here"},
)
def get_task(task_id: str) -> Response:
    try:
        parsed = uuid.UUID(task_id)
    except ValueError:
        raise ValidationFailed("task_id must be a UUID.") from None
    return jsonify(access.task_state(parsed))


@bp.get(f"/audit/events/{EVENT_ID}/proof")
@login_required
@describe(
    "Self-contained inclusion proof of an anchored event (?download=1: as a file). Admins: "
    "any event; others: events they are the actor of, 404 for every other id. 409 when "
    "there is no proof to give, its code says why: not_anchored (not yet), "
    "archive_unavailable, batch_mismatch or event_missing (the anchored batch no longer "
    "matches its root, or the event is gone: evidence of tampering)",
    tag="audit",
    query=ProofQuery,
    responses={200: "The proof", 404: "Unknown (or not yours)", 409: "No proof: see code"},
)
def get_proof(event_id: int) -> Response:
    query = parse_query(ProofQuery)
    try:
        proof = access.proof_for(current_principal().user, event_id)
    except ProofUnavailable as exc:
        raise Conflict(str(exc), code=exc.code) from None
    response = jsonify(proof)
    if query.download:
        filename = f"audit-event-{event_id}-proof.json"
        response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response
