"""The OpenAPI 3 document, built from the routes themselves (api/openapi.py serves it).

Each view declares what it takes and answers with ``@describe(...)``; ``build_openapi``
walks the URL map, so a route without a description is visible (and a test fails on it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel

F = TypeVar("F", bound=Callable[..., Any])

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}
_CONVERTER_SCHEMAS = {
    "int": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "uuid": {"type": "string", "format": "uuid"},
    "string": {"type": "string"},
}
_RULE_ARG = re.compile(r"<(?:(?P<conv>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


@dataclass
class RouteDoc:
    summary: str
    tag: str
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, str] = field(default_factory=dict)


def describe(
    summary: str,
    *,
    tag: str,
    request: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    responses: dict[int, str] | None = None,
) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        view.openapi = RouteDoc(summary, tag, request, query, responses or {200: "OK"})  # type: ignore[attr-defined]
        return view

    return decorator


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(doc: RouteDoc, rule: str, secured: bool, components: dict[str, Any]) -> dict:
    op: dict[str, Any] = {"summary": doc.summary, "tags": [doc.tag], "responses": {}}
    params = [
        {
            "name": m["name"],
            "in": "path",
            "required": True,
            "schema": _CONVERTER_SCHEMAS.get(m["conv"] or "string", {"type": "string"}),
        }
        for m in _RULE_ARG.finditer(rule)
    ]
    if doc.query is not None:
        params += _query_parameters(doc.query)
    if params:
        op["parameters"] = params
    if doc.request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(doc.request, components)}},
        }
    for status, text in doc.responses.items():
        op["responses"][str(status)] = {"description": text}
    op["responses"]["default"] = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if secured:
        op["security"] = [{"bearerAuth": []}]
    return op


def undocumented_routes(app: Flask) -> list[str]:
    """Routes under /api whose view has no @describe."""
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api") and not hasattr(
            app.view_functions[rule.endpoint], "openapi"
        ):
            missing.append(rule.rule)
    return missing


def build_openapi(app: Flask) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        doc: RouteDoc | None = getattr(view, "openapi", None)
        if not rule.rule.startswith("/api") or doc is None:
            continue
        path = _RULE_ARG.sub(lambda m: "{" + m["name"] + "}", rule.rule)
        secured = getattr(view, "login_required", False)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                doc, rule.rule, secured, components
            )
    return {
        "openapi": "3.0.3",
        "info": {"title": "Zero Trust AI platform API", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
