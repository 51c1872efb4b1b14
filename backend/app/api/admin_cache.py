"""Admin view of the Redis cache: keys per type, memory, hit ratios, outages."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.api.auth_guard import admin_required
from app.api.openapi_spec import describe
from app.services.cache_service import cache_service

bp = Blueprint("admin_cache", __name__, url_prefix="/api/admin/cache")


@bp.get("/stats")
@admin_required
@describe(
    "Cache statistics: keys per type, memory, hits/misses of this process, errors (admin)",
    tag="admin",
    responses={
        200: "Stats; Redis-side figures are null while Redis is unreachable",
        403: "Not an admin",
    },
)
def cache_stats() -> Response:
    return jsonify(cache_service.get_cache_stats())
