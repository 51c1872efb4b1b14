"""JSON shapes of the REST resources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.models import User, UserSession


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
        "created_at": iso(session.created_at),
        "last_seen_at": iso(session.last_seen_at),
        "ended_at": iso(session.ended_at),
        "termination_reason": session.termination_reason,
    }


def page_json(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}
