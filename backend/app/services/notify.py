"""What the platform tells connected clients when sessions change (after commit)."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.models import Notification, UserSession
from app.realtime import emit
from app.services.after_commit import after_commit
from app.services.topology_service import session_delta

ROLE_CHANGED = "role_changed"


def session_changed(session: UserSession) -> None:
    """Queue the topology update for admins and the owner once the change commits."""
    delta = session_delta(session)

    after_commit(lambda: emit.emit_topology_update(delta["user_id"], delta))


def session_ended(session: UserSession, reason: str) -> None:
    """After commit: `session_terminated` to the session's sockets, then disconnect them."""
    session_id = session.id
    after_commit(lambda: emit.disconnect_session(session_id, reason))
    session_changed(session)


def user_access_changed(user_id: int) -> None:
    """After commit: every socket of the user, in any process, is told (`error`
    {code: role_changed}) and disconnected, so no room or subscription it was allowed under
    the old role or state outlives the change."""
    after_commit(lambda: emit.disconnect_user(user_id, ROLE_CHANGED))


def notify_admins(kind: str, title: str, body: str, data: dict[str, Any]) -> None:
    """Store an admin notification in the caller's transaction; after commit, send it to the
    admin room as `admin_notification` {kind, title, summary, ...data}."""
    db.session.add(Notification(audience="admin", kind=kind, title=title, body=body, data=data))
    message = {**data, "kind": kind, "title": title, "summary": body}
    after_commit(lambda: emit.emit_to_admins("admin_notification", message))
