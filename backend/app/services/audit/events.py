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
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.database import utcnow
from app.extensions import db
from app.models import AuditEvent

GENESIS_HASH = "0" * 64
# PostgreSQL advisory lock id serialising appends to the chain (an arbitrary constant).
_CHAIN_LOCK_ID = 0x5A7A_0001


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_event_hash(
    *,
    prev_hash: str,
    created_at: datetime,
    event_type: str,
    actor_user_id: int | None,
    subject_type: str | None,
    subject_id: str | None,
    ip_address: str | None,
    payload: dict[str, Any] | None,
    payload_cid: str | None,
) -> str:
    content = {
        "prev_hash": prev_hash,
        "created_at": created_at.isoformat(timespec="microseconds"),
        "event_type": event_type,
        "actor_user_id": actor_user_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "ip_address": ip_address,
        "payload": payload,
        "payload_cid": payload_cid,
    }
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def hash_of_event(event: AuditEvent) -> str:
    return compute_event_hash(
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


def _lock_chain_head() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _CHAIN_LOCK_ID})


def record_event(
    event_type: str,
    *,
    actor_user_id: int | None = None,
    subject_type: str | None = None,
    subject_id: str | int | None = None,
    ip_address: str | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the chain inside the current transaction (the caller commits)."""
    if payload is not None:
        # Normalise now so the stored JSON and the hashed JSON are the same document.
        payload = json.loads(canonical_json(payload))
    _lock_chain_head()
    head = db.session.scalar(
        sa.select(AuditEvent.event_hash).order_by(AuditEvent.id.desc()).limit(1)
    )
    prev_hash = head or GENESIS_HASH
    fields: dict[str, Any] = {
        "created_at": utcnow(),
        "event_type": event_type,
        "actor_user_id": actor_user_id,
        "subject_type": subject_type,
        "subject_id": None if subject_id is None else str(subject_id),
        "ip_address": ip_address,
        "payload": payload,
        "payload_cid": None,
    }
    event_hash = compute_event_hash(prev_hash=prev_hash, **fields)
    event = AuditEvent(prev_hash=prev_hash, event_hash=event_hash, **fields)
    db.session.add(event)
    db.session.flush()
    return event
