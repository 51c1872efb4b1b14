"""Login sessions: listing with authorization, termination, idle expiry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.database import utcnow
from app.errors import ConcealedForbidden, Forbidden, NotFound
from app.extensions import db
from app.models import User, UserSession
from app.services import notify
from app.services.audit.events import record_event


@dataclass(frozen=True)
class SessionFilter:
    user_id: int | None = None
    status: str | None = None
    limit: int = 50
    offset: int = 0


def list_sessions(actor: User, filters: SessionFilter) -> tuple[list[UserSession], int]:
    """The actor's own sessions; an admin sees everyone's, filterable by user and status."""
    query = sa.select(UserSession)
    if not actor.is_admin:
        if filters.user_id is not None and filters.user_id != actor.id:
            raise Forbidden("You can only list your own sessions.")
        query = query.where(UserSession.user_id == actor.id)
    elif filters.user_id is not None:
        query = query.where(UserSession.user_id == filters.user_id)
    if filters.status is not None:
        query = query.where(UserSession.status == filters.status)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(UserSession.created_at.desc(), UserSession.id)
        .limit(filters.limit)
        .offset(filters.offset)
    ).all()
    return list(rows), total


SESSION_NOT_FOUND = "Session not found."


def get_session_for(actor: User, session_id: uuid.UUID) -> UserSession:
    """The session, to its owner or an admin. Another user's session is answered exactly as
    an unknown one, so session ids cannot be probed; the refusal is still audited."""
    session = db.session.get(UserSession, session_id)
    if session is None:
        raise NotFound(SESSION_NOT_FOUND)
    if session.user_id != actor.id and not actor.is_admin:
        raise ConcealedForbidden(SESSION_NOT_FOUND)
    return session


def end_session(
    session: UserSession,
    *,
    status: str,
    reason: str,
    actor_id: int | None,
    ip_address: str | None = None,
) -> bool:
    """Mark an active session ended (the caller commits). False if it had already ended.

    Every token of the session stops working at once: authentication checks the session's
    status on each request, and the refresh token's jti is cleared.
    """
    if not session.is_active:
        return False
    session.status = status
    session.ended_at = utcnow()
    session.termination_reason = reason
    session.terminated_by_id = actor_id
    session.refresh_jti = None
    notify.session_ended(session, reason)
    record_event(
        "session_terminated" if status == "terminated" else "session_expired",
        actor_user_id=actor_id,
        subject_type="session",
        subject_id=str(session.id),
        ip_address=ip_address,
        payload={"user_id": session.user_id, "reason": reason},
    )
    return True


def terminate_session(actor: User, session_id: uuid.UUID, ip_address: str | None) -> UserSession:
    """Terminate a session: its owner or an admin may (the reason recorded says which).
    Idempotent on an ended session."""
    session = get_session_for(actor, session_id)
    reason = "terminated_by_admin" if actor.is_admin else "terminated_by_user"
    end_session(
        session, status="terminated", reason=reason, actor_id=actor.id, ip_address=ip_address
    )
    db.session.commit()
    return session


def is_idle_expired(session: UserSession, idle_timeout: int, now: datetime) -> bool:
    return session.last_seen_at + timedelta(seconds=idle_timeout) < now


def terminate_user_sessions(
    user_id: int,
    reason: str,
    actor_id: int | None,
    *,
    keep_session_id: uuid.UUID | None = None,
) -> int:
    """End every active session of a user but ``keep_session_id`` (the caller commits).
    Returns how many ended."""
    query = sa.select(UserSession).where(
        UserSession.user_id == user_id, UserSession.status == "active"
    )
    if keep_session_id is not None:
        query = query.where(UserSession.id != keep_session_id)
    sessions = db.session.scalars(query).all()
    for session in sessions:
        end_session(session, status="terminated", reason=reason, actor_id=actor_id)
    return len(sessions)


def risk_snapshot(session: UserSession) -> dict[str, object]:
    """The session's current risk as stored (null until the session has been scored)."""
    return {
        "session_id": str(session.id),
        "user_id": session.user_id,
        "risk_score": session.risk_score,
        "risk_level": session.risk_level,
        "scored": session.risk_score is not None,
    }
