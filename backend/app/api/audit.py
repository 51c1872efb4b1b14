"""The audit trail over REST: events, anchoring batches, verifications, inclusion proofs.

Admins browse the hash-chained events and the Merkle batches that anchor them, and queue
integrity verifications (run by the ``verify_audit_integrity`` task). Any signed-in user
may download the inclusion proof of an event they are the actor of; admins, of any event.
A proof is self-contained: anyone can check it against the chain it names.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import redis
import sqlalchemy as sa
from celery.result import AsyncResult
from flask import Blueprint, Response, current_app, jsonify, url_for
from kombu.exceptions import OperationalError as BrokerError
from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from app.api.auth_guard import admin_required, current_principal, login_required
from app.api.docs import describe
from app.api.serializers import iso
from app.api.validation import parse_json, parse_query
from app.celery_app import current_celery
from app.errors import AppError, Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.models import AuditBatch, AuditEvent, User
from app.models.audit import BATCH_STATUSES
from app.redis_client import get_redis_client
from app.schemas.common import StrictModel
from app.services.audit.events import load_payload
from app.services.audit.ipfs import BlockNotFound, CorruptBlock, IPFSUnavailable
from app.services.audit.proof import ProofUnavailable, build_proof

bp = Blueprint("audit", __name__, url_prefix="/api")

ID_MAX = 2**63 - 1  # event ids are 64-bit
EVENT_ID = f"<int(min=1, max={ID_MAX}):event_id>"
BATCH_ID = "<int(min=1, max=2147483647):batch_id>"
VERIFY_TASK = "app.tasks.blockchain_tasks.verify_audit_integrity"
VERIFICATION_KEY = "zt:v1:audit_verification:{}"
# What reading a payload back from the IPFS store can raise (InvalidCID and NotAFile are
# ValueErrors, as is a payload that is not JSON; OSError: the local store's files).
PAYLOAD_READ_ERRORS = (BlockNotFound, CorruptBlock, IPFSUnavailable, ValueError, OSError)


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"


# --- request schemas -----------------------------------------------------------------------


def _iso_datetime(value: object) -> datetime:
    """An ISO 8601 date or date-time, as aware UTC (no offset means UTC); nothing else."""
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 date-time")
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("expected an ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z") from None


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]
Id = Annotated[int, Field(ge=1, le=ID_MAX)]
Text = Annotated[str, Field(min_length=1, pattern=r"^[^\x00]+$")]


class KeysetQuery(StrictModel):
    """Newest first, ``limit`` at a time; the next page is ``before_id=<next_before_id>``."""

    model_config = ConfigDict(extra="forbid", strict=False)

    limit: int = Field(default=100, ge=1, le=500)
    before_id: Id | None = Field(default=None, description="only ids below this one")


class EventListQuery(KeysetQuery):
    event_type: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")] | None = None
    actor_user_id: Id | None = None
    subject_type: Annotated[Text, Field(max_length=32)] | None = None
    subject_id: Annotated[Text, Field(max_length=64)] | None = None
    since: IsoDateTime | None = Field(default=None, description="created at or after")
    until: IsoDateTime | None = Field(default=None, description="created before (exclusive)")
    batch_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    anchored: bool | None = Field(default=None, description="whether its batch is anchored")

    @model_validator(mode="after")
    def _ordered_window(self) -> EventListQuery:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


class BatchListQuery(KeysetQuery):
    status: Annotated[str, Field(pattern=f"^({'|'.join(BATCH_STATUSES)})$")] | None = None


class VerificationRequest(StrictModel):
    """A range of event ids, or neither bound for the whole trail."""

    first_event_id: Id | None = None
    last_event_id: Id | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> VerificationRequest:
        first, last = self.first_event_id, self.last_event_id
        if (first is None) != (last is None):
            raise ValueError("give both first_event_id and last_event_id, or neither")
        if first is not None and last is not None and last < first:
            raise ValueError("last_event_id must not be below first_event_id")
        return self


class ProofQuery(StrictModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    download: bool = Field(default=False, description="answer as an attachment")


# --- reading the trail ---------------------------------------------------------------------


def event_json(event: AuditEvent, batch_status: str | None) -> dict[str, Any]:
    return {
        "id": event.id,
        "created_at": iso(event.created_at),
        "event_type": event.event_type,
        "actor_user_id": event.actor_user_id,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "ip_address": event.ip_address,
        "payload": event.payload,
        "payload_cid": event.payload_cid,
        "prev_hash": event.prev_hash,
        "event_hash": event.event_hash,
        "batch_id": event.batch_id,
        "anchor_status": batch_status or "unbatched",
    }


BATCH_FIELDS = (
    "id",
    "first_event_id",
    "last_event_id",
    "event_count",
    "merkle_root",
    "manifest_cid",
    "status",
    "chain_id",
    "signer",
    "tx_hash",
    "block_number",
    "block_hash",
    "attempts",
    "last_error",
    "anchor_history",
    "archive_cid",
)


def batch_json(batch: AuditBatch) -> dict[str, Any]:
    """The batch without its signed transaction (``raw_tx``), which is never exposed."""
    body: dict[str, Any] = {name: getattr(batch, name) for name in BATCH_FIELDS}
    for name in ("created_at", "submitted_at", "anchored_at", "archived_at"):
        body[name] = iso(getattr(batch, name))
    return body


def _keyset(
    rows: list[Any], limit: int, id_of: Callable[[Any], int]
) -> tuple[list[Any], int | None]:
    """The page and the cursor of the next one (None on the last page); rows has limit+1."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], id_of(rows[limit - 1])


def list_events(query: EventListQuery) -> tuple[list[dict[str, Any]], int | None]:
    stmt = sa.select(AuditEvent, AuditBatch.status).outerjoin(
        AuditBatch, AuditEvent.batch_id == AuditBatch.id
    )
    for column, value in (
        (AuditEvent.event_type, query.event_type),
        (AuditEvent.actor_user_id, query.actor_user_id),
        (AuditEvent.subject_type, query.subject_type),
        (AuditEvent.subject_id, query.subject_id),
        (AuditEvent.batch_id, query.batch_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.since is not None:
        stmt = stmt.where(AuditEvent.created_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(AuditEvent.created_at < query.until)
    if query.anchored is True:
        stmt = stmt.where(AuditBatch.status == "anchored")
    elif query.anchored is False:
        stmt = stmt.where(sa.or_(AuditBatch.status.is_(None), AuditBatch.status != "anchored"))
    if query.before_id is not None:
        stmt = stmt.where(AuditEvent.id < query.before_id)
    rows = db.session.execute(stmt.order_by(AuditEvent.id.desc()).limit(query.limit + 1)).all()
    page, cursor = _keyset(list(rows), query.limit, lambda row: row[0].id)
    return [event_json(event, status) for event, status in page], cursor


def event_detail(event_id: int) -> dict[str, Any]:
    """One event with its payload, read back from the IPFS store when it was stored there;
    an unreadable payload is reported in ``payload_error`` rather than failing the request."""
    event = db.session.get(AuditEvent, event_id)
    if event is None:
        raise NotFound("Audit event not found.")
    batch = db.session.get(AuditBatch, event.batch_id) if event.batch_id is not None else None
    body = event_json(event, batch.status if batch else None)
    if event.payload_cid is not None:
        try:
            body["payload"] = load_payload(event)
        except PAYLOAD_READ_ERRORS as exc:
            body["payload"] = None
            body["payload_error"] = f"payload {event.payload_cid} could not be read: {exc}"
    return body


def list_batches(query: BatchListQuery) -> tuple[list[dict[str, Any]], int | None]:
    stmt = sa.select(AuditBatch)
    if query.status is not None:
        stmt = stmt.where(AuditBatch.status == query.status)
    if query.before_id is not None:
        stmt = stmt.where(AuditBatch.id < query.before_id)
    rows = db.session.scalars(stmt.order_by(AuditBatch.id.desc()).limit(query.limit + 1)).all()
    page, cursor = _keyset(list(rows), query.limit, lambda batch: batch.id)
    return [batch_json(batch) for batch in page], cursor


def proof_for(actor: User, event_id: int) -> dict[str, Any]:
    """The event's proof: admins, of any event; anyone else, only of events they are the
    actor of, and LookupError (as for an unknown id) for every other id, so a plain user
    learns nothing about other people's events, not even that they exist."""
    if actor.is_admin:
        return build_proof(event_id)
    row = db.session.get(AuditEvent, event_id)
    if row is not None and row.actor_user_id != actor.id:
        raise LookupError(f"audit event {event_id} does not exist")
    try:
        proof = build_proof(event_id)
    except ProofUnavailable:
        if row is None:  # archived and unreadable: whose it is cannot be told
            raise LookupError(f"audit event {event_id} does not exist") from None
        raise
    if proof["event"]["actor_user_id"] != actor.id:  # an archived event of someone else
        raise LookupError(f"audit event {event_id} does not exist")
    return proof


# --- verification requests -----------------------------------------------------------------


def queue_verification(actor: User, first_event_id: int | None, last_event_id: int | None) -> str:
    """Send ``verify_audit_integrity`` and remember its id (for as long as its result is
    kept) so that only verifications requested here can be looked up. Writes no row."""
    task_id = str(uuid.uuid4())
    key = VERIFICATION_KEY.format(task_id)
    kwargs: dict[str, int | None] = {}
    if first_event_id is not None:
        kwargs = {"first_event_id": first_event_id, "last_event_id": last_event_id}
    try:
        get_redis_client().set(key, actor.id, ex=current_app.config["CELERY_RESULT_EXPIRES"])
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable; try again shortly.") from exc
    try:
        current_celery().send_task(VERIFY_TASK, kwargs=kwargs, task_id=task_id)
    except (BrokerError, OSError) as exc:
        with contextlib.suppress(redis.RedisError):
            get_redis_client().delete(key)
        raise ServiceUnavailable("The task broker is unavailable; try again shortly.") from exc
    return task_id


def verification_state(task_id: str) -> dict[str, Any]:
    try:
        task_id = str(uuid.UUID(task_id))
    except ValueError:
        raise ValidationFailed("task_id must be a UUID.") from None
    try:
        if not get_redis_client().exists(VERIFICATION_KEY.format(task_id)):
            raise NotFound("No verification with this id (or its result has expired).")
        result = AsyncResult(task_id, app=current_celery())
        body: dict[str, Any] = {"task_id": task_id, "state": result.state, "result": None}
        if result.state == "SUCCESS":
            body["result"] = result.result
        elif result.state == "FAILURE":
            body["error"] = str(result.result)
    except redis.RedisError as exc:
        raise ServiceUnavailable("The result backend is unavailable; try again shortly.") from exc
    return body


# --- routes --------------------------------------------------------------------------------


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
    events, cursor = list_events(parse_query(EventListQuery))
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
    return jsonify(event_detail(event_id))


@bp.get("/admin/audit/batches")
@admin_required
@describe(
    "Anchoring batches, newest first; page on with before_id=next_before_id (admin)",
    tag="audit",
    query=BatchListQuery,
    responses={200: "{batches, next_before_id}", 403: "Not an admin"},
)
def get_batches() -> Response:
    batches, cursor = list_batches(parse_query(BatchListQuery))
    return jsonify({"batches": batches, "next_before_id": cursor})


@bp.get(f"/admin/audit/batches/{BATCH_ID}")
@admin_required
@describe(
    "One anchoring batch (admin)",
    tag="audit",
    responses={200: "OK", 403: "Not an admin", 404: "Unknown batch"},
)
def get_batch(batch_id: int) -> Response:
    batch = db.session.get(AuditBatch, batch_id)
    if batch is None:
        raise NotFound("Audit batch not found.")
    return jsonify(batch_json(batch))


@bp.post("/admin/audit/verifications")
@admin_required
@describe(
    "Queue an integrity verification of an event range ({} = the whole trail) (admin)",
    tag="audit",
    request=VerificationRequest,
    responses={202: "{task_id, status_url}", 403: "Not an admin", 503: "Broker unavailable"},
)
def request_verification() -> tuple[Response, int]:
    body = parse_json(VerificationRequest)
    task_id = queue_verification(current_principal().user, body.first_event_id, body.last_event_id)
    status_url = url_for(".get_verification", task_id=task_id)
    return jsonify({"task_id": task_id, "status_url": status_url}), 202


@bp.get("/admin/audit/verifications/<task_id>")
@admin_required
@describe(
    "State of a verification queued here: the report once SUCCESS, error on FAILURE (admin)",
    tag="audit",
    responses={200: "{task_id, state, result}", 400: "Not a UUID", 404: "Not queued here"},
)
def get_verification(task_id: str) -> Response:
    return jsonify(verification_state(task_id))


@bp.get(f"/audit/events/{EVENT_ID}/proof")
@login_required
@describe(
    "Self-contained inclusion proof of an anchored event (?download=1: as a file). Admins: "
    "any event; others: events they are the actor of, 404 for every other id",
    tag="audit",
    query=ProofQuery,
    responses={200: "The proof", 404: "Unknown (or not yours)", 409: "Not anchored yet"},
)
def get_proof(event_id: int) -> Response:
    query = parse_query(ProofQuery)
    try:
        proof = proof_for(current_principal().user, event_id)
    except LookupError:
        raise NotFound("Audit event not found.") from None
    except ProofUnavailable as exc:
        raise Conflict(str(exc), code="not_anchored") from None
    response = jsonify(proof)
    if query.download:
        filename = f"audit-event-{event_id}-proof.json"
        response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response
