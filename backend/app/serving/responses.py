"""Complete HTTP responses, as bytes, for refusals made before the WSGI app runs.

They carry the API's one error envelope (app.errors) and the headers every response
carries (app.serving.headers), and always close the connection. Messages are fixed: the
malformed input is never echoed back.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from werkzeug.http import HTTP_STATUS_CODES

from app.errors import http_error_code
from app.serving.headers import NO_STORE, STATIC_HEADERS

MESSAGES = {
    400: "The request line or headers are malformed.",
    408: "The request headers did not arrive in time.",
    414: "The request line is too long.",
    431: "The request headers are too large.",
    505: "Only HTTP/1.0 and HTTP/1.1 are served.",
}
TOO_MANY_CONNECTIONS = "too_many_connections"


def _code(status: int) -> str:
    """The code Flask's handlers give the same status (werkzeug's name for it)."""
    return http_error_code(HTTP_STATUS_CODES.get(status, HTTPStatus(status).phrase))


def error_bytes(
    status: int,
    *,
    code: str | None = None,
    message: str | None = None,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """The whole response: status line, headers, JSON envelope body."""
    envelope = {
        "error": {
            "code": code or _code(status),
            "message": message or MESSAGES.get(status, HTTPStatus(status).phrase),
            "details": None,
        }
    }
    body = json.dumps(envelope).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        ("Cache-Control", NO_STORE),
        *STATIC_HEADERS,
        *extra_headers,
    ]
    head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("latin-1") + b"\r\n" + body


def too_many_connections(limit: int) -> bytes:
    return error_bytes(
        503,
        code=TOO_MANY_CONNECTIONS,
        message=f"More than {limit} open connections from this address.",
        extra_headers=(("Retry-After", "1"),),
    )
