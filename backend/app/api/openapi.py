"""GET /api/openapi.json: the OpenAPI document of the REST API (built in openapi_spec)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from app.api.openapi_spec import build_openapi, describe

bp = Blueprint("openapi", __name__, url_prefix="/api")


@bp.get("/openapi.json")
@describe("This OpenAPI 3 document", tag="meta")
def openapi_document() -> Response:
    return jsonify(build_openapi(current_app))
