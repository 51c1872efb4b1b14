"""The audit trail as the REST API offers it: reading it, who may, and queuing its tasks.

Admins browse the hash-chained events and the Merkle batches that anchor them, and queue
the trail's tasks (an integrity verification, an anchoring run now); the state of a task
queued here can be read back for as long as its result is kept. Any signed-in user may have
the inclusion proof of an event they are the actor of; admins, of any event.

Returns ORM objects and plain values (the API shapes the JSON); raises ``app.errors``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import redis
import sqlalchemy as sa
from flask import current_app

from app.errors import NotFound, ServiceUnavailable
from app.extensions import db
from app.models import AuditBatch, AuditEvent, User
from app.redis_client import get_redis_client
from app.services import task_sender
from app.services.audit.events import load_payload
from app.services.audit.ipfs import BlockNotFound, CorruptBlock, IPFSUnavailable
from app.services.audit.proof import ProofUnavailable, build_proof

T = TypeVar("T")
VERIFY_TASK = "app.tasks.blockchain_tasks.verify_audit_integrity"
ANCHOR_TASK = "app.tasks.blockchain_tasks.sync_audit_trail"
# The ids of the tasks queued here, each kept as long as the result backend keeps its result.
TASK_KEY = "zt:v1:audit_task:{}"
# What reading a payload back from the IPFS store can raise (InvalidCID and NotAFile are
# ValueErrors, as is a payload that is not JSON; OSError: the local store's files).
PAYLOAD_READ_ERRORS = (BlockNotFound, CorruptBlock, IPFSUnavailable, ValueError, OSError)


# --- reading the trail ---------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    event_type: str | None = None
    actor_user_id: int | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before (exclusive)
    batch_id: int | None = None
    anchored: bool | None = None  # whether its batch is anchored
    limit: int = 100
    before_id: int | None = None  # only ids below this one


@dataclass(frozen=True)
class EventDetail:
    """An event with its payload: read back from the IPFS store when it was stored there;
    an unreadable one is None, and ``payload_error`` says why."""

    event: AuditEvent
    batch_status: str | None
    payload: Any
    payload_error: str | None = None


def _keyset(rows: list[T], limit: int, id_of: Callable[[T], int]) -> tuple[list[T], int | None]:
    """The page and the cursor of the next one (None on the last page); rows has limit+1."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], id_of(rows[limit - 1])


def list_events(
    filters: EventFilter,
) -> tuple[list[tuple[AuditEvent, str | None]], int | None]:
    """Newest first: (event, its batch's status or None) pairs, and the next page's cursor."""
    stmt = sa.select(AuditEvent, AuditBatch.status).outerjoin(
        AuditBatch, AuditEvent.batch_id == AuditBatch.id
    )
    for column, value in (
        (AuditEvent.event_type, filters.event_type),
        (AuditEvent.actor_user_id, filters.actor_user_id),
        (AuditEvent.subject_type, filters.subject_type),
        (AuditEvent.subject_id, filters.subject_id),
        (AuditEvent.batch_id, filters.batch_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if filters.since is not None:
        stmt = stmt.where(AuditEvent.created_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(AuditEvent.created_at < filters.until)
    if filters.anchored is True:
        stmt = stmt.where(AuditBatch.status == "anchored")
    elif filters.anchored is False:
        stmt = stmt.where(sa.or_(AuditBatch.status.is_(None), AuditBatch.status != "anchored"))
    if filters.before_id is not None:
        stmt = stmt.where(AuditEvent.id < filters.before_id)
    rows = db.session.execute(stmt.order_by(AuditEvent.id.desc()).limit(filters.limit + 1))
    pairs = [(event, status) for event, status in rows]
    return _keyset(pairs, filters.limit, lambda pair: pair[0].id)


def event_detail(event_id: int) -> EventDetail:
    event = db.session.get(AuditEvent, event_id)
    if event is None:
        raise NotFound("Audit event not found.")
    batch = db.session.get(AuditBatch, event.batch_id) if event.batch_id is not None else None
    status = batch.status if batch else None
    if event.payload_cid is None:
        return EventDetail(event, status, event.payload)
    try:
        return EventDetail(event, status, load_payload(event))
    except PAYLOAD_READ_ERRORS as exc:
        error = f"payload {event.payload_cid} could not be read: {exc}"
        return EventDetail(event, status, None, error)


def list_batches(
    status: str | None, limit: int, before_id: int | None
) -> tuple[list[AuditBatch], int | None]:
    """Newest first, and the next page's cursor."""
    stmt = sa.select(AuditBatch)
    if status is not None:
        stmt = stmt.where(AuditBatch.status == status)
    if before_id is not None:
        stmt = stmt.where(AuditBatch.id < before_id)
    rows = db.session.scalars(stmt.order_by(AuditBatch.id.desc()).limit(limit + 1)).all()
    return _keyset(list(rows), limit, lambda batch: batch.id)


def batch_detail(batch_id: int) -> AuditBatch:
    batch = db.session.get(AuditBatch, batch_id)
    if batch is None:
        raise NotFound("Audit batch not found.")
    return batch


def _unknown_event() -> NotFound:
    return NotFound("Audit event not found.")


def proof_for(actor: User, event_id: int) -> dict[str, Any]:
    """The event's proof: admins, of any event; anyone else, only of events they are the
    actor of, and NotFound (as for an unknown id) for every other id, so a plain user learns
    nothing about other people's events, not even that they exist. ProofUnavailable (with
    its ``code``) when there is no proof to give."""
    row = None if actor.is_admin else db.session.get(AuditEvent, event_id)
    if row is not None and row.actor_user_id != actor.id:
        raise _unknown_event()
    try:
        proof = build_proof(event_id)
    except LookupError:
        raise _unknown_event() from None
    except ProofUnavailable:
        if row is None and not actor.is_admin:
            raise _unknown_event() from None  # archived and unreadable, or deleted: whose?
        raise
    if not actor.is_admin and proof["event"]["actor_user_id"] != actor.id:
        raise _unknown_event()  # an archived event of someone else
    return proof


# --- tasks ---------------------------------------------------------------------------------


def _queue(actor: User, task_name: str, kwargs: dict[str, Any]) -> str:
    """Send the task and remember its id (for as long as its result is kept) so that only
    tasks queued here can be looked up. Writes no row."""
    task_id = str(uuid.uuid4())
    key = TASK_KEY.format(task_id)
    try:
        get_redis_client().set(key, actor.id, ex=current_app.config["CELERY_RESULT_EXPIRES"])
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable; try again shortly.") from exc
    try:
        task_sender.send(task_name, kwargs=kwargs, task_id=task_id)
    except ServiceUnavailable:
        with contextlib.suppress(redis.RedisError):
            get_redis_client().delete(key)
        raise
    return task_id


def queue_verification(actor: User, first_event_id: int | None, last_event_id: int | None) -> str:
    """Queue ``verify_audit_integrity`` of the range (no bounds: the whole trail)."""
    kwargs: dict[str, Any] = {}
    if first_event_id is not None:
        kwargs = {"first_event_id": first_event_id, "last_event_id": last_event_id}
    return _queue(actor, VERIFY_TASK, kwargs)


def queue_anchoring(actor: User) -> str:
    """Queue ``sync_audit_trail`` now: batch the pending events and anchor the batches
    (what beat does every minute)."""
    return _queue(actor, ANCHOR_TASK, {})


def task_state(task_id: uuid.UUID) -> dict[str, Any]:
    """The state of a task queued here: its result once SUCCESS, its error on FAILURE."""
    task = str(task_id)
    try:
        if not get_redis_client().exists(TASK_KEY.format(task)):
            raise NotFound("No audit task with this id (or its result has expired).")
        result = task_sender.result_of(task)
        state: dict[str, Any] = {"task_id": task, "state": result.state, "result": None}
        if result.state == "SUCCESS":
            state["result"] = result.result
        elif result.state == "FAILURE":
            state["error"] = str(result.result)
    except redis.RedisError as exc:
        raise ServiceUnavailable("The result backend is unavailable; try again shortly.") from exc
    return state
