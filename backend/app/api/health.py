"""Liveness and dependency status."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.api.openapi_spec import describe
from app.services.dependency_health import dependency_status

bp = Blueprint("health", __name__, url_prefix="/api")


@bp.get("/health")
@describe(
    "Liveness (200 while the process serves) and the status of each dependency",
    tag="meta",
    responses={200: "Process is up; `status` is ok or degraded, `checks` per dependency"},
)
def health() -> Response:
    return jsonify(dependency_status())
