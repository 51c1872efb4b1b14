"""What the platform tells connected clients when sessions change (after commit)."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.models import Notification, UserSession
from app.realtime import emit
from app.services.after_commit import after_commit
from app.services.topology_service import session_delta


def session_changed(session: UserSession) -> None:
    """Queue the topology update for admins and the owner once the change commits."""
    delta = session_delta(session)

    after_commit(lambda: emit.emit_topology_update(delta["user_id"], delta))


def session_ended(session: UserSession, reason: str) -> None:
    """After commit: `session_terminated` to the session's sockets, then disconnect them."""
    session_id = session.id
    after_commit(lambda: emit.disconnect_session(session_id, reason))
    session_changed(session)


def notify_admins(kind: str, title: str, body: str, data: dict[str, Any]) -> None:
    """Store an admin notification in the caller's transaction; after commit, send it to the
    admin room as `admin_notification` {kind, title, summary, ...data}."""
    db.session.add(Notification(audience="admin", kind=kind, title=title, body=body, data=data))
    message = {**data, "kind": kind, "title": title, "summary": body}
    after_commit(lambda: emit.emit_to_admins("admin_notification", message))
