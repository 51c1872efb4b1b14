"""The web process's server under gevent: gevent.pywsgi with what it lacks at the edge.

The same rules as app.serving.eventlet_server: HTTP_HEADER_TIMEOUT_SECONDS for a request's
line and headers (and for an idle keep-alive connection), MAX_CONNECTIONS_PER_ADDRESS per
client address (more answered 503), and refusals made before the app runs (malformed or
over-long request line or headers) answered with the API's JSON error envelope.
"""

from __future__ import annotations

from typing import Any

import gevent
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

from app.serving.limits import EdgeSettings, peer_address
from app.serving.responses import error_bytes, too_many_connections

REFUSAL_WRITE_SECONDS = 2.0


class EdgeWSGIHandler(WSGIHandler):
    """gevent's handler with a header deadline, the per-address limit and JSON refusals.
    ``edge`` is set on the subclass ``serve`` builds."""

    edge: EdgeSettings
    _deadline: gevent.Timeout | None = None

    def handle(self) -> None:
        address = peer_address(self.client_address)
        limiter = self.edge.limiter
        if not limiter.acquire(address):
            self._refuse(too_many_connections(limiter.limit))
            return
        try:
            super().handle()
        finally:
            limiter.release(address)

    def _refuse(self, response: bytes) -> None:
        try:
            with gevent.Timeout(REFUSAL_WRITE_SECONDS, False):
                self.socket.sendall(response)
        except OSError:
            pass
        finally:
            self.socket.close()

    def read_requestline(self) -> str:
        self._deadline = gevent.Timeout(self.edge.header_timeout)
        self._deadline.start()
        return str(super().read_requestline())

    def read_request(self, raw_requestline: str) -> bool:
        try:
            return bool(super().read_request(raw_requestline))
        finally:
            self._cancel_deadline()

    def handle_one_request(self) -> Any:
        try:
            result = super().handle_one_request()
        except gevent.Timeout as exc:
            if exc is not self._deadline:
                raise
            return None  # closes the connection
        finally:
            self._cancel_deadline()
        if isinstance(result, tuple):
            status, _plain_body = result
            return status, error_bytes(int(status))
        return result

    def _cancel_deadline(self) -> None:
        # Kept (not reset to None): a deadline that fired is recognised by identity.
        if self._deadline is not None:
            self._deadline.close()


def serve(
    app: Any, host: str, port: int, *, max_connections: int, backlog: int, edge: EdgeSettings
) -> None:
    """Serve ``app`` on host:port until the process stops."""
    handler = type("EdgeWSGIHandler", (EdgeWSGIHandler,), {"edge": edge})
    server = WSGIServer(
        (host, port), app, spawn=Pool(max_connections), log=None, handler_class=handler
    )
    server.init_socket()
    server.socket.listen(backlog)
    server.serve_forever()
