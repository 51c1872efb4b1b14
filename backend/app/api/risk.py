"""Risk of sessions: a session's current assessment and history (owner or admin), and an
admin's view of one user's latest assessments."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, jsonify

from app.api.auth_guard import (
    admin_required,
    current_principal,
    login_required,
    require_step_up_cleared,
)
from app.api.openapi_spec import describe
from app.api.serializers import iso
from app.api.validation import parse_query
from app.models import RiskAssessment
from app.schemas.risk import RiskHistoryQuery
from app.services.risk import assessments

bp = Blueprint("risk", __name__, url_prefix="/api")


def assessment_json(row: RiskAssessment) -> dict[str, Any]:
    """A stored assessment in the shape of ``risk_score_update`` (plus its id and parts)."""
    document = row.factors or {}
    return {
        "id": row.id,
        "session_id": str(row.session_id),
        "user_id": row.user_id,
        "score": row.risk_score,
        "level": row.risk_level,
        "behavioral_score": row.behavioral_score,
        "context_score": row.context_score,
        "factors": document.get("factors", []),
        "behaviour": document.get("behaviour"),
        "decision": document.get("decision"),
        "assessed_at": iso(row.created_at),
    }


@bp.get("/risk/sessions/<uuid:session_id>")
@login_required
@describe(
    "A session's current risk assessment and its recent history, newest first (owner or "
    "admin; another user's session is not found)",
    tag="risk",
    query=RiskHistoryQuery,
    responses={
        200: "OK",
        400: "Bad query",
        403: "Another user's session while this one is in step-up",
        404: "Unknown session, or not yours",
    },
)
def session_risk(session_id: uuid.UUID) -> Response:
    query = parse_query(RiskHistoryQuery)
    session, rows = assessments.session_history(current_principal().user, session_id, query.limit)
    if session.user_id != current_principal().user.id:
        require_step_up_cleared()
    history = [assessment_json(row) for row in rows]
    return jsonify(
        {
            "session_id": str(session.id),
            "user_id": session.user_id,
            "status": session.status,
            "risk_score": session.risk_score,
            "risk_level": session.risk_level,
            "current": history[0] if history else None,
            "history": history,
            "limit": query.limit,
        }
    )


@bp.get("/admin/users/<int(min=1, max=2147483647):user_id>/risk")
@admin_required
@describe(
    "A user's latest risk assessments over all their sessions, newest first (admin)",
    tag="admin",
    query=RiskHistoryQuery,
    responses={200: "OK", 400: "Bad query", 403: "Not an admin", 404: "Unknown user"},
)
def user_risk(user_id: int) -> Response:
    query = parse_query(RiskHistoryQuery)
    user, rows = assessments.user_history(current_principal().user, user_id, query.limit)
    return jsonify(
        {
            "user_id": user.id,
            "username": user.username,
            "assessments": [assessment_json(row) for row in rows],
            "limit": query.limit,
        }
    )
