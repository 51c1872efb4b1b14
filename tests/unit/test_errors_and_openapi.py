"""Every failure is the one JSON error envelope, writes nothing, and never leaks a traceback;
the OpenAPI document describes exactly the routes that exist."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.api.openapi_spec import undocumented_routes
from app.models import User
from tests.checks import assert_error, assert_unchanged, table_rows
from tests.conftest import TEST_PASSWORD, SignedIn, count, make_user

LOGIN = "/api/auth/login"
CREATE_USER = "/api/admin/users"
# A failed login is a security event by design: it is counted for lockout and audited.
LOGIN_RECORDS = ("login_attempts", "audit_events")


@pytest.mark.parametrize(
    "path", ["/api/nope", "/nope", "/api/sessions/a/b", "/api/admin/users/1/x"]
)
def test_unknown_path_is_a_404_envelope(client: FlaskClient, path: str) -> None:
    assert_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", LOGIN, {"POST"}),
        ("GET", "/api/auth/logout", {"POST"}),
        ("POST", "/api/health", {"GET", "HEAD"}),
        ("DELETE", "/api/admin/users", {"GET", "POST"}),
        ("POST", f"/api/sessions/{uuid.uuid4()}", {"GET", "DELETE"}),
    ],
)
def test_wrong_method_is_a_405_envelope_with_allow(
    client: FlaskClient, method: str, path: str, allowed: set[str]
) -> None:
    response = client.open(path, method=method, json={})
    assert_error(response, 405, "method_not_allowed")
    allow = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= allow
    assert method not in allow


def test_body_over_the_limit_is_413_and_writes_nothing(
    client: FlaskClient, app: Flask, admin_login: SignedIn
) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    padding = "x" * limit
    before = table_rows()

    login = client.post(
        LOGIN,
        data=json.dumps({"username": "someone", "password": padding}),
        content_type="application/json",
    )
    create = client.post(
        CREATE_USER,
        data=json.dumps({"username": "someone", "password": padding}),
        content_type="application/json",
        headers=admin_login.headers,
    )

    assert_error(login, 413, "request_entity_too_large")
    assert_error(create, 413, "request_entity_too_large")
    assert_unchanged(before)


def test_body_limit_is_configurable(base_config: dict[str, Any]) -> None:
    app = create_app({**base_config, "MAX_CONTENT_LENGTH": 2048})
    client = app.test_client()
    body = json.dumps({"username": "someone", "password": "p" * 2100})
    response = client.post(LOGIN, data=body, content_type="application/json")
    assert_error(response, 413)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"username": "alice",',
        b"{'username': 'alice'}",
        b"\xff\xfe\x00",
        b"",
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b"null",
    ],
    ids=["truncated", "single-quotes", "not-utf8", "empty", "deep-array", "deep-object", "null"],
)
def test_malformed_json_is_400_and_writes_nothing(
    client: FlaskClient, admin_login: SignedIn, raw: bytes
) -> None:
    before = table_rows()
    for url in (LOGIN, "/api/auth/refresh", CREATE_USER):
        response = client.post(
            url, data=raw, content_type="application/json", headers=admin_login.headers
        )
        assert_error(response, 400)
    assert_unchanged(before)


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_wrong_content_type_is_400(client: FlaskClient, content_type: str | None) -> None:
    user = make_user()
    before = table_rows()
    body = json.dumps({"username": user.username, "password": TEST_PASSWORD})
    headers = {"Content-Type": content_type} if content_type else {}
    assert_error(client.post(LOGIN, data=body, headers=headers), 400, "invalid_payload")
    assert_unchanged(before)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "alice"},
        {"password": TEST_PASSWORD},
        {"username": 12345, "password": TEST_PASSWORD},
        {"username": "alice", "password": ["a"]},
        {"username": None, "password": None},
        {"username": True, "password": 1.5},
        {"username": {"$ne": ""}, "password": {"$ne": ""}},
        {"username": "alice", "password": TEST_PASSWORD, "role": "admin"},
        {"username": "alice", "password": TEST_PASSWORD, "device_fingerprint": 5},
        {"username": "alice", "password": ""},
        {"username": "a" * 65, "password": TEST_PASSWORD},
        {"username": "alice", "password": "p" * 257},
        [{"username": "alice", "password": TEST_PASSWORD}],
        "alice",
        42,
    ],
)
def test_invalid_login_bodies_are_400_and_write_nothing(client: FlaskClient, body: Any) -> None:
    make_user(username="alice")
    before = table_rows()
    error = assert_error(client.post(LOGIN, json=body), 400, "invalid_payload")
    assert TEST_PASSWORD not in json.dumps(error)
    assert_unchanged(before)


@pytest.mark.parametrize(
    "body", [{}, {"refresh_token": ""}, {"refresh_token": 1}, {"refresh_token": "x", "y": 1}]
)
def test_invalid_refresh_bodies_are_400(client: FlaskClient, body: dict[str, Any]) -> None:
    before = table_rows()
    assert_error(client.post("/api/auth/refresh", json=body), 400, "invalid_payload")
    assert_unchanged(before)


def test_validation_errors_name_the_fields_without_echoing_input(client: FlaskClient) -> None:
    secret = "my secret password that is wrong type"
    error = assert_error(
        client.post(LOGIN, json={"username": 5, "password": [secret], "extra": 1}), 400
    )
    assert {d["field"] for d in error["details"]} == {"username", "password", "extra"}
    assert secret not in json.dumps(error)


SQL_LOOKING = [
    "admin' OR '1'='1",
    "'; DROP TABLE users; --",
    'admin"--',
    "1 UNION SELECT password_hash FROM users",
    "admin'/*",
    "%' OR 1=1 --",
]


@pytest.mark.parametrize("username", SQL_LOOKING)
def test_sql_looking_usernames_are_refused_and_write_nothing(
    client: FlaskClient, admin_login: SignedIn, username: str
) -> None:
    make_user(username="alice")
    users = count(User)
    before = table_rows()

    login = client.post(LOGIN, json={"username": username, "password": TEST_PASSWORD})
    create = client.post(
        CREATE_USER,
        json={"username": username, "password": "long enough pw"},
        headers=admin_login.headers,
    )

    assert_error(login, 400, "invalid_payload")
    assert_error(create, 400, "invalid_payload")
    assert_unchanged(before)
    assert count(User) == users


@pytest.mark.parametrize("password", SQL_LOOKING)
def test_sql_looking_password_is_just_a_wrong_password(client: FlaskClient, password: str) -> None:
    user = make_user()
    before = table_rows()
    login = client.post(LOGIN, json={"username": user.username, "password": password})
    assert_error(login, 401, "invalid_credentials")
    assert_unchanged(before, except_tables=LOGIN_RECORDS)


@pytest.mark.parametrize(
    "query",
    [
        "/api/sessions?status=active'%20OR%20'1'='1",
        "/api/sessions?user_id=1%20OR%201=1",
        "/api/admin/users?role=admin'--",
        "/api/admin/users?is_active=1;DROP%20TABLE%20users",
        "/api/admin/users?limit=1;--",
    ],
)
def test_sql_looking_query_values_are_400(
    client: FlaskClient, admin_login: SignedIn, query: str
) -> None:
    before = table_rows()
    assert_error(client.get(query, headers=admin_login.headers), 400, "invalid_payload")
    assert_unchanged(before)


def test_unknown_user_ids_are_404_and_write_nothing(
    client: FlaskClient, admin_login: SignedIn
) -> None:
    before = table_rows()
    assert_error(client.get("/api/admin/users/424242", headers=admin_login.headers), 404)
    patch = client.patch(
        "/api/admin/users/424242", json={"is_active": False}, headers=admin_login.headers
    )
    assert_error(patch, 404, "not_found")
    assert_unchanged(before)


def test_unexpected_exception_is_a_500_envelope_without_traceback(
    base_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(base_config)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/boom")

    error = assert_error(response, 500, "internal_error")
    text = response.get_data(as_text=True)
    assert "secret internal detail" not in text and "RuntimeError" not in text
    assert error["details"] is None
    # The traceback goes to the log, for operators.
    assert any(record.exc_info for record in caplog.records)


# --- the OpenAPI document ----------------------------------------------------------------

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
_RULE_ARG = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


@pytest.fixture
def openapi(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_openapi_document_has_a_valid_openapi_3_structure(openapi: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.\d+\.\d+", openapi["openapi"])
    assert openapi["info"]["title"] and openapi["info"]["version"]
    schemes = openapi["components"]["securitySchemes"]
    assert openapi["paths"]
    for path, item in openapi["paths"].items():
        assert path.startswith("/api/")
        templated = set(re.findall(r"{(\w+)}", path))
        assert item and set(item) <= HTTP_METHODS, path
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation["summary"] and operation["tags"], where
            assert operation["responses"], where
            for status, response in operation["responses"].items():
                assert status == "default" or re.fullmatch(r"[1-5]\d\d", status), where
                assert response["description"], where
            params = operation.get("parameters", [])
            for param in params:
                assert param["in"] in {"path", "query", "header", "cookie"}, where
                assert param["name"] and "schema" in param, where
                if param["in"] == "path":
                    assert param["required"] is True, where
            assert {p["name"] for p in params if p["in"] == "path"} == templated, where
            names = [(p["name"], p["in"]) for p in params]
            assert len(names) == len(set(names)), where
            if "requestBody" in operation:
                content = operation["requestBody"]["content"]
                assert "schema" in content["application/json"], where
            for requirement in operation.get("security", []):
                assert set(requirement) <= set(schemes), where
    for ref in _refs(openapi):
        assert _resolve(openapi, ref) is not None, ref
    for name, schema in openapi["components"]["schemas"].items():
        assert schema.get("type") == "object", name


def test_every_route_is_documented(app: Flask) -> None:
    assert undocumented_routes(app) == []


def test_document_and_url_map_agree(app: Flask, openapi: dict[str, Any]) -> None:
    documented = {
        (path, method.upper()) for path, item in openapi["paths"].items() for method in item
    }
    routed = {
        (_RULE_ARG.sub(r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert documented == routed


def _example_path(path: str, operation: dict[str, Any]) -> str:
    for param in operation.get("parameters", []):
        if param["in"] == "path":
            value = uuid.uuid4() if param["schema"].get("format") == "uuid" else 1
            path = path.replace("{" + param["name"] + "}", str(value))
    return path


def test_documented_security_matches_behaviour(
    client: FlaskClient, openapi: dict[str, Any]
) -> None:
    """Operations marked bearer-secured refuse anonymous calls; the others do not."""
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            url = _example_path(path, operation)
            response = client.open(url, method=method.upper(), json={})
            if operation.get("security"):
                assert_error(response, 401)
            else:
                assert response.status_code != 401, f"{method} {path}"
