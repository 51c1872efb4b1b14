"""Recording audit events into the hash chain.

Each event's hash covers its canonical content and the hash of the event before it, so
editing, reordering or deleting a stored event breaks the chain. Events are added to the
caller's transaction (so an action and its audit record commit together). On PostgreSQL the
chain head is locked for the rest of that transaction so concurrent writers queue up; on
every backend ``prev_hash`` is unique, so a fork can never be committed.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.database import utcnow
from app.extensions import db
from app.models import AuditBatch, AuditEvent
from app.services.audit.ipfs import blockstore_from_config

GENESIS_HASH = "0" * 64
# PostgreSQL advisory lock id serialising appends to the chain (an arbitrary int4).
_CHAIN_LOCK_ID = 0x5A7A_0001
_EVENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def event_content(
    *,
    prev_hash: str,
    created_at: datetime | str,
    event_type: str,
    actor_user_id: int | None,
    subject_type: str | None,
    subject_id: str | None,
    ip_address: str | None,
    payload: dict[str, Any] | None,
    payload_cid: str | None,
) -> dict[str, Any]:
    """The document an event's hash covers (also what a proof carries), JSON-ready."""
    if isinstance(created_at, datetime):
        created_at = created_at.isoformat(timespec="microseconds")
    return {
        "prev_hash": prev_hash,
        "created_at": created_at,
        "event_type": event_type,
        "actor_user_id": actor_user_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "ip_address": ip_address,
        "payload": payload,
        "payload_cid": payload_cid,
    }


CONTENT_FIELDS = tuple(
    event_content(
        prev_hash="",
        created_at="",
        event_type="",
        actor_user_id=None,
        subject_type=None,
        subject_id=None,
        ip_address=None,
        payload=None,
        payload_cid=None,
    )
)


def hash_content(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def compute_event_hash(**fields: Any) -> str:
    return hash_content(event_content(**fields))


def content_of(event: AuditEvent) -> dict[str, Any]:
    return event_content(
        prev_hash=event.prev_hash,
        created_at=event.created_at,
        event_type=event.event_type,
        actor_user_id=event.actor_user_id,
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        ip_address=event.ip_address,
        payload=event.payload,
        payload_cid=event.payload_cid,
    )


def hash_of_event(event: AuditEvent) -> str:
    return hash_content(content_of(event))


def _lock_chain_head() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        # Keyed by schema as well: each schema holds its own chain.
        db.session.execute(
            sa.text("SELECT pg_advisory_xact_lock(:id, hashtext(current_schema()))"),
            {"id": _CHAIN_LOCK_ID},
        )


def _stored_payload(
    payload: dict[str, Any] | None,
) -> tuple[dict[str, Any] | None, str | None]:
    """The payload as stored and hashed: normalised through its canonical JSON (so stored
    and hashed are one document), or, beyond AUDIT_PAYLOAD_INLINE_MAX_BYTES, its CID in
    the IPFS store."""
    if payload is None:
        return None, None
    encoded = canonical_json(payload)
    if len(encoded.encode()) <= current_app.config["AUDIT_PAYLOAD_INLINE_MAX_BYTES"]:
        return json.loads(encoded), None
    return None, blockstore_from_config(current_app.config).add(encoded.encode())


def load_payload(event: AuditEvent) -> dict[str, Any] | None:
    """The event's payload, fetched from the IPFS store when it was stored there."""
    if event.payload_cid is None:
        return event.payload
    data: dict[str, Any] = json.loads(
        blockstore_from_config(current_app.config).cat(event.payload_cid)
    )
    return data


def validate_event_fields(
    event_type: object,
    actor_user_id: object = None,
    subject_type: object = None,
    subject_id: object = None,
    ip_address: object = None,
    payload: object = None,
) -> None:
    """Raise ValueError naming the first field that cannot be recorded."""
    if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
        raise ValueError("event_type must be 1-64 characters of a-z, 0-9, '.', '_' or '-'")
    if actor_user_id is not None and (
        isinstance(actor_user_id, bool) or not isinstance(actor_user_id, int) or actor_user_id < 1
    ):
        raise ValueError("actor_user_id must be a positive integer or null")
    if subject_type is not None and (
        not isinstance(subject_type, str) or not 0 < len(subject_type) <= 32
    ):
        raise ValueError("subject_type must be a string of 1-32 characters or null")
    if subject_id is not None and (
        isinstance(subject_id, bool)
        or not isinstance(subject_id, (str, int))
        or not 0 < len(str(subject_id)) <= 64
    ):
        raise ValueError("subject_id must be a string or integer of 1-64 characters or null")
    # An address, or a marker such as "unknown" when the client's address was not one.
    if ip_address is not None and (
        not isinstance(ip_address, str) or not 0 < len(ip_address) <= 45
    ):
        raise ValueError("ip_address must be a string of 1-45 characters or null")
    if payload is not None and not isinstance(payload, dict):
        raise ValueError("payload must be a JSON object or null")
    if payload is not None:
        try:
            canonical_json(payload)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"payload is not JSON: {exc}") from None


def record_event(
    event_type: str,
    *,
    actor_user_id: int | None = None,
    subject_type: str | None = None,
    subject_id: str | int | None = None,
    ip_address: str | None = None,
    payload: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> AuditEvent:
    """Append an event to the chain inside the current transaction (the caller commits).

    With ``idempotency_key``, an event already recorded under that key is returned instead
    of a second one being appended.
    """
    validate_event_fields(event_type, actor_user_id, subject_type, subject_id, ip_address, payload)
    existing = _recorded_under(idempotency_key)
    if existing is not None:
        return existing
    # Before taking the lock: storing a large payload may be a call to a Kubo daemon.
    payload, payload_cid = _stored_payload(payload)
    _lock_chain_head()
    # Again under the lock (on PostgreSQL), so two deliveries of one task cannot both append.
    existing = _recorded_under(idempotency_key)
    if existing is not None:
        return existing
    head = db.session.scalar(
        sa.select(AuditEvent.event_hash).order_by(AuditEvent.id.desc()).limit(1)
    )
    prev_hash = head or archived_chain_head() or GENESIS_HASH
    fields: dict[str, Any] = {
        "created_at": utcnow(),
        "event_type": event_type,
        "actor_user_id": actor_user_id,
        "subject_type": subject_type,
        "subject_id": None if subject_id is None else str(subject_id),
        "ip_address": ip_address,
        "payload": payload,
        "payload_cid": payload_cid,
    }
    event_hash = compute_event_hash(prev_hash=prev_hash, **fields)
    event = AuditEvent(
        prev_hash=prev_hash, event_hash=event_hash, idempotency_key=idempotency_key, **fields
    )
    db.session.add(event)
    db.session.flush()
    return event


def _recorded_under(idempotency_key: str | None) -> AuditEvent | None:
    if idempotency_key is None:
        return None
    return db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.idempotency_key == idempotency_key)
    )


def archived_chain_head() -> str | None:
    """The last event hash of the newest archived batch (when every row was archived)."""
    return db.session.scalar(
        sa.select(AuditBatch.last_event_hash)
        .where(AuditBatch.archive_cid.is_not(None))
        .order_by(AuditBatch.last_event_id.desc())
        .limit(1)
    )
