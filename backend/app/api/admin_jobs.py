"""Admin view of background jobs: queue depths, live workers, the schedule and last runs."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.api.auth_guard import admin_required
from app.api.openapi_spec import describe
from app.celery_app import beat_schedule
from app.services.jobs_service import jobs_overview

bp = Blueprint("admin_jobs", __name__, url_prefix="/api/admin/jobs")


@bp.get("")
@admin_required
@describe(
    "Queue depths, live workers and the last run of each scheduled task (admin)",
    tag="admin",
    responses={200: "Overview", 403: "Not an admin"},
)
def jobs() -> Response:
    return jsonify(jobs_overview(beat_schedule()))
