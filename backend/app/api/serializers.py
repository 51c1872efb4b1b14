"""JSON shapes of the REST resources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.models import AuditBatch, AuditEvent, User, UserSession


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "is_active": user.is_active,
        "created_at": iso(user.created_at),
        "last_login_at": iso(user.last_login_at),
    }


def session_json(session: UserSession) -> dict[str, Any]:
    return {
        "id": str(session.id),
        "user_id": session.user_id,
        "device_id": session.device_id,
        "ip_address": session.ip_address,
        "user_agent": session.user_agent,
        "status": session.status,
        "risk_score": session.risk_score,
        "risk_level": session.risk_level,
        "step_up_required": session.needs_step_up,
        "created_at": iso(session.created_at),
        "last_seen_at": iso(session.last_seen_at),
        "ended_at": iso(session.ended_at),
        "termination_reason": session.termination_reason,
    }


def page_json(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


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
    "replaced_tx_hashes",
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
