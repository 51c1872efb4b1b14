"""Who may do what over Socket.IO: the decision behind each privileged client event.

Each decision loads the socket's user and login session as they are now, through the auth
service's active-session check (ended, idle-expired, disabled), so the role that counts is
the current one, not the one the socket connected with. Decisions return plain values —
which user's room, whether the admin scope applies, the snapshot to send — and the
Socket.IO handlers map them to rooms and emit. Raises ``app.errors``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from app.errors import ConcealedForbidden, Forbidden, Unauthorized
from app.services import session_service, topology_service
from app.services.auth_service import Principal, principal_for


class SessionEnded(Forbidden):
    """The socket's login session or account is no longer usable: the socket must go."""


@dataclass(frozen=True)
class TopologySubscription:
    """Whose sub-graph the socket follows (``user_id`` None: the whole graph) and the
    snapshot it is sent first."""

    user_id: int | None
    snapshot: dict[str, Any]


def current_principal(user_id: int, session_id: uuid.UUID) -> Principal:
    try:
        return principal_for(user_id, session_id)
    except Unauthorized as exc:
        raise SessionEnded("this session has ended") from exc


def _step_up_cleared(principal: Principal) -> None:
    """Admin scope over Socket.IO, like the admin REST routes, waits for a session in
    step-up to confirm its password."""
    if principal.session.needs_step_up:
        raise Forbidden(
            "Confirm your password first (POST /api/auth/step-up).", code="step_up_required"
        )


def user_room_access(user_id: int, session_id: uuid.UUID, wanted_user_id: int) -> int:
    """The user whose room the socket may join: its own; an admin's, anyone's."""
    principal = current_principal(user_id, session_id)
    if wanted_user_id != principal.user.id:
        if not principal.user.is_admin:
            raise Forbidden("you can only join your own user room")
        _step_up_cleared(principal)
    return wanted_user_id


def admin_room_access(user_id: int, session_id: uuid.UUID) -> None:
    principal = current_principal(user_id, session_id)
    if not principal.user.is_admin:
        raise Forbidden("administrators only")
    _step_up_cleared(principal)


def risk_subscription(
    user_id: int, session_id: uuid.UUID, wanted_user_id: int, wanted_session_id: uuid.UUID
) -> dict[str, Any]:
    """A login session's current risk, to follow it: the owner's own sessions, an admin's
    any. Returns the snapshot (its ``session_id`` names the session to follow)."""
    principal = current_principal(user_id, session_id)
    session = session_service.get_session_for(principal.user, wanted_session_id)
    if session.user_id != wanted_user_id:
        raise ConcealedForbidden(session_service.SESSION_NOT_FOUND)
    if session.user_id != principal.user.id:
        _step_up_cleared(principal)
    return session_service.risk_snapshot(session)


def topology_subscription(user_id: int, session_id: uuid.UUID) -> TopologySubscription:
    """Admins follow the whole graph, users their own sub-graph."""
    principal = current_principal(user_id, session_id)
    if principal.user.is_admin:
        _step_up_cleared(principal)
    scope = None if principal.user.is_admin else principal.user.id
    return TopologySubscription(user_id=scope, snapshot=topology_service.snapshot(principal.user))
