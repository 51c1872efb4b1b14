"""Security headers on every response of the web process, the Socket.IO transport's too.

A WSGI middleware around the whole app (Flask and the Engine.IO middleware in front of
it), so responses Flask never sees (Socket.IO long-polling) get them as well:

* ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy: no-referrer`` everywhere;
* ``Cache-Control: no-store`` on ``/api/`` and Socket.IO responses (tokens, personal
  data), unless the route set its own ``Cache-Control``;
* a Content-Security-Policy for the dashboard this process serves (a Vite/React build):
  scripts, fonts, images and styles from this origin only, except that styles may also be
  inline (``style-src 'unsafe-inline'``: chart libraries such as Recharts write ``style``
  attributes into their SVG markup and CSS-in-JS writes ``<style>`` elements); connections to
  this origin over HTTP and ws(s) (Socket.IO); no plugins, no framing
  (``frame-ancestors 'none'``), forms and ``<base>`` to this origin only;
* ``Strict-Transport-Security`` only on a request that came over TLS
  (``wsgi.url_scheme`` https: TLS at this server, or ``X-Forwarded-Proto`` trusted through
  PROXY_FIX_X_PROTO, whose ProxyFix the factory puts around this middleware).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

NO_STORE = "no-store"
HSTS = "max-age=31536000"
STATIC_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)
_CSP_BASE = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
# A Host header that is a plain host[:port]; anything else gets connect-src 'self' only.
_PLAIN_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def content_security_policy(host: str | None) -> str:
    """The dashboard's policy; ``connect-src`` names this host's ws: and wss: origins too,
    for browsers in which 'self' does not cover WebSocket URLs."""
    connect = "connect-src 'self'"
    if host and _PLAIN_HOST.match(host):
        connect += f" ws://{host} wss://{host}"
    return "; ".join((*_CSP_BASE, connect))


class SecurityHeaders:
    def __init__(self, app: WSGIApp, no_store_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.no_store_prefixes = no_store_prefixes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            self.add_headers(environ, headers)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)

    def add_headers(self, environ: dict[str, Any], headers: list[tuple[str, str]]) -> None:
        """Add the security headers ``headers`` does not already have, in place."""
        present = {name.lower() for name, _ in headers}
        csp = content_security_policy(environ.get("HTTP_HOST"))
        wanted = [*STATIC_HEADERS, ("Content-Security-Policy", csp)]
        if environ.get("PATH_INFO", "").startswith(self.no_store_prefixes):
            wanted.append(("Cache-Control", NO_STORE))
        if environ.get("wsgi.url_scheme") == "https":
            wanted.append(("Strict-Transport-Security", HSTS))
        headers.extend((name, value) for name, value in wanted if name.lower() not in present)
