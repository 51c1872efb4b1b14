"""Liveness and dependency status."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from app.api.auth_guard import bearer_token
from app.api.openapi_spec import describe
from app.errors import AppError
from app.extensions import db
from app.services.auth_service import authenticate
from app.services.dependency_health import cached_dependency_status, without_error_details

bp = Blueprint("health", __name__, url_prefix="/api")


def _from_an_admin() -> bool:
    """True for a request with a valid admin access token; no token or a bad one is an
    anonymous request here, not an error (load balancers probe without one)."""
    if "Authorization" not in request.headers:
        return False
    try:
        principal = authenticate(bearer_token())
        # Like every admin view, the details wait for a session in step-up to pass it.
        return principal.user.is_admin and not principal.session.needs_step_up
    except AppError:
        return False
    except Exception:
        # The database is what may be down: health must still answer, without details.
        db.session.rollback()
        return False


@bp.get("/health")
@describe(
    "Liveness (200 while the process serves) and the status of each dependency, probed at "
    "most once per HEALTH_CACHE_SECONDS; why a dependency is down (`error`) only for admins",
    tag="meta",
    responses={200: "Process is up; `status` is ok or degraded, `checks` per dependency"},
)
def health() -> Response:
    status = cached_dependency_status()
    return jsonify(status if _from_an_admin() else without_error_details(status))
