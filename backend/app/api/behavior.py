"""A user's own behavioural data (enrolment state, model versions) and its deletion, and
the admin equivalents for any user."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.api.auth_guard import admin_required, client_ip, current_principal, login_required
from app.api.openapi_spec import describe
from app.services.behavior import enrolment

bp = Blueprint("behavior", __name__, url_prefix="/api")
USER_ID = "<int(min=1, max=2147483647):user_id>"
STATE = (
    "Per kind (keystroke, mouse): usable samples so far against the cold-start threshold, "
    "whether a model is active, and every stored version with its training metrics"
)


@bp.get("/behavior/me")
@login_required
@describe("Your behavioural enrolment state", tag="behavior", responses={200: STATE})
def my_behavior() -> Response:
    user = current_principal().user
    return jsonify(enrolment.enrolment_state(user, user.id))


@bp.delete("/behavior/me")
@login_required
@describe(
    "Delete your behavioural telemetry and models (audited)",
    tag="behavior",
    responses={200: "What was deleted"},
)
def delete_my_behavior() -> Response:
    user = current_principal().user
    return jsonify(enrolment.delete_behavior_data(user, user.id, client_ip()))


@bp.get(f"/admin/users/{USER_ID}/behavior")
@admin_required
@describe(
    "A user's behavioural enrolment state (admin)",
    tag="admin",
    responses={200: STATE, 404: "Unknown user"},
)
def user_behavior(user_id: int) -> Response:
    return jsonify(enrolment.enrolment_state(current_principal().user, user_id))


@bp.delete(f"/admin/users/{USER_ID}/behavior")
@admin_required
@describe(
    "Delete a user's behavioural telemetry and models (admin, audited)",
    tag="admin",
    responses={200: "What was deleted", 404: "Unknown user"},
)
def delete_user_behavior(user_id: int) -> Response:
    return jsonify(enrolment.delete_behavior_data(current_principal().user, user_id, client_ip()))
