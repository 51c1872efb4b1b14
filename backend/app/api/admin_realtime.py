"""Admin view of the real-time layer: connections, rooms, events, across processes."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.api.auth_guard import admin_required
from app.api.openapi_spec import describe
from app.realtime.server import get_websocket_stats

bp = Blueprint("admin_realtime", __name__, url_prefix="/api/admin/realtime")


@bp.get("/stats")
@admin_required
@describe(
    "Socket.IO statistics of this process and of every live web process (admin)",
    tag="admin",
    responses={200: "Stats", 403: "Not an admin"},
)
def realtime_stats() -> Response:
    return jsonify(get_websocket_stats())
