"""Login sessions: list (own; admins all) and terminate."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify

from app.api.auth_guard import (
    client_ip,
    current_principal,
    login_required,
    require_step_up_cleared,
)
from app.api.openapi_spec import describe
from app.api.serializers import page_json, session_json
from app.api.validation import parse_query
from app.schemas.sessions import SessionListQuery
from app.services import session_service

bp = Blueprint("sessions", __name__, url_prefix="/api/sessions")


@bp.get("")
@login_required
@describe(
    "List sessions: your own; admins see all and may filter by user_id and status (an "
    "admin session in step-up: its own user_id only)",
    tag="sessions",
    query=SessionListQuery,
    responses={
        200: "A page of sessions",
        403: "Filtering on another user (non-admin); other users' while in step-up",
    },
)
def list_sessions() -> Response:
    query = parse_query(SessionListQuery)
    if current_principal().user.is_admin and query.user_id != current_principal().user.id:
        require_step_up_cleared()  # other users' sessions: an admin view
    rows, total = session_service.list_sessions(
        current_principal().user,
        session_service.SessionFilter(
            user_id=query.user_id, status=query.status, limit=query.limit, offset=query.offset
        ),
    )
    return jsonify(page_json([session_json(s) for s in rows], total, query.limit, query.offset))


@bp.get("/<uuid:session_id>")
@login_required
@describe(
    "One session (owner or admin)",
    tag="sessions",
    responses={
        200: "OK",
        403: "Another user's session while this one is in step-up",
        404: "Unknown session, or another user's",
    },
)
def get_session(session_id: uuid.UUID) -> Response:
    session = session_service.get_session_for(current_principal().user, session_id)
    if session.user_id != current_principal().user.id:
        require_step_up_cleared()
    return jsonify(session_json(session))


@bp.delete("/<uuid:session_id>")
@login_required
@describe(
    "Terminate a session (owner or admin); its tokens are refused from the next request",
    tag="sessions",
    responses={
        200: "Terminated (or already ended)",
        403: "Another session while this one is in step-up",
        404: "Unknown session, or another user's",
    },
)
def terminate_session(session_id: uuid.UUID) -> Response:
    if session_id != current_principal().session.id:
        require_step_up_cleared()
    session = session_service.terminate_session(current_principal().user, session_id, client_ip())
    return jsonify(session_json(session))
