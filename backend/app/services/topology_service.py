"""The network topology graph: users, their active sessions, devices and IP addresses.

Admins see the whole graph, a user only their own sub-graph.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import User, UserSession

MAX_SESSIONS = 2000


def _session_graph(session: UserSession) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    user_node = f"user:{session.user_id}"
    session_node = f"session:{session.id}"
    nodes = [
        {"id": user_node, "type": "user", "label": session.user.username},
        {
            "id": session_node,
            "type": "session",
            "status": session.status,
            "risk_score": session.risk_score,
            "risk_level": session.risk_level,
        },
        {"id": f"ip:{session.ip_address}", "type": "ip", "label": session.ip_address},
    ]
    edges = [
        {"source": user_node, "target": session_node, "type": "owns"},
        {"source": session_node, "target": f"ip:{session.ip_address}", "type": "from_ip"},
    ]
    if session.device is not None:
        device_node = f"device:{session.device.id}"
        nodes.append({"id": device_node, "type": "device", "trusted": session.device.trusted})
        edges.append({"source": session_node, "target": device_node, "type": "on_device"})
    return nodes, edges


def snapshot(actor: User) -> dict[str, Any]:
    query = (
        sa.select(UserSession)
        .where(UserSession.status == "active")
        .options(selectinload(UserSession.user), selectinload(UserSession.device))
        .order_by(UserSession.created_at.desc())
        .limit(MAX_SESSIONS)
    )
    if not actor.is_admin:
        query = query.where(UserSession.user_id == actor.id)
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    sessions = db.session.scalars(query).all()
    for session in sessions:
        session_nodes, session_edges = _session_graph(session)
        nodes.update({node["id"]: node for node in session_nodes})
        edges.extend(session_edges)
    return {
        "scope": "all" if actor.is_admin else "own",
        "nodes": list(nodes.values()),
        "edges": edges,
        "truncated": len(sessions) >= MAX_SESSIONS,
    }


def session_delta(session: UserSession) -> dict[str, Any]:
    """The change one session makes: its nodes and edges, added or removed."""
    nodes, edges = _session_graph(session)
    op = "upsert" if session.is_active else "remove"
    if op == "remove":
        # Only the session node goes; the user, device and IP may still have other sessions.
        nodes = [n for n in nodes if n["type"] == "session"]
    return {"op": op, "user_id": session.user_id, "nodes": nodes, "edges": edges}
