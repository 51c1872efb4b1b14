"""Turning request bodies and query strings into schema objects, or a 400 envelope."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from app.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


def _details(exc: ValidationError) -> list[dict[str, Any]]:
    # The offending input is not echoed back: it may be a password.
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or None, "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def _json_body() -> Any:
    """The parsed body; a 400 when it is not JSON (too deeply nested counts as not JSON)."""
    data = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ValidationFailed("The body is not valid JSON.", code="invalid_json") from exc


def parse_json(model: type[M]) -> M:
    if not request.is_json:
        raise ValidationFailed("Expected a JSON body (Content-Type: application/json).")
    body = _json_body()
    if not isinstance(body, dict):
        raise ValidationFailed("The JSON body must be an object.")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed("The request body is invalid.", details=_details(exc)) from exc


def parse_query(model: type[M]) -> M:
    args: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        if len(values) > 1:
            raise ValidationFailed(f"Query parameter {key!r} given more than once.")
        args[key] = values[0]
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        raise ValidationFailed("The query string is invalid.", details=_details(exc)) from exc
