"""The web process's server under eventlet: eventlet.wsgi with what it lacks at the edge.

eventlet.wsgi waits for a request's headers for ever and serves any number of connections
from one address (up to its pool size), so a client sending partial headers could hold
every slot. Here each connection has HTTP_HEADER_TIMEOUT_SECONDS to send a request line
and its headers (an idle keep-alive connection as long to begin its next request), a client
address holds at most MAX_CONNECTIONS_PER_ADDRESS connections (more are answered 503), and
what is refused before the app runs is answered with the API's JSON error envelope instead
of eventlet's and http.server's plain and HTML pages.
"""

from __future__ import annotations

from typing import Any

import eventlet
from eventlet import greenio, wsgi

from app.serving.limits import EdgeSettings, peer_address
from app.serving.responses import error_bytes, too_many_connections

# Writing a refusal to a client that does not read must not hold the connection either.
REFUSAL_WRITE_SECONDS = 2.0


def _refuse(sock: Any, response: bytes) -> None:
    try:
        with eventlet.Timeout(REFUSAL_WRITE_SECONDS, False):
            sock.sendall(response)
    except OSError:
        pass
    finally:
        greenio.shutdown_safe(sock)
        sock.close()


class EdgeHttpProtocol(wsgi.HttpProtocol):
    """eventlet's protocol with a header deadline, the per-address limit and JSON refusals.
    ``edge`` is set on the subclass ``serve`` builds."""

    edge: EdgeSettings
    _deadline: eventlet.Timeout | None = None

    def __init__(self, conn_state: list[Any], server: wsgi.Server) -> None:
        address = peer_address(conn_state[0])
        limiter = self.edge.limiter
        if not limiter.acquire(address):
            _refuse(conn_state[1], too_many_connections(limiter.limit))
            return
        try:
            super().__init__(conn_state, server)
        finally:
            limiter.release(address)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except eventlet.Timeout as exc:
            if exc is not self._deadline:
                raise
            self.close_connection = True
        finally:
            self._cancel_deadline()

    def _read_request_line(self) -> Any:
        self._deadline = eventlet.Timeout(self.edge.header_timeout)
        line = super()._read_request_line()
        if len(line) >= self.server.url_length_limit:
            self._cancel_deadline()
            self._write(error_bytes(414))
            self.close_connection = True
            return b""  # eventlet then ends the connection
        return line

    def parse_request(self) -> bool:
        try:
            if not super().parse_request():
                return False
        except (wsgi.HeaderLineTooLong, wsgi.HeadersTooLarge):
            self.send_error(431)
            return False
        finally:
            self._cancel_deadline()
        if not self._body_framing_valid():
            self.send_error(400)
            return False
        return True

    def _body_framing_valid(self) -> bool:
        """The checks eventlet makes after parsing (and answers in plain text)."""
        length = self.headers.get("content-length")
        if length is None:
            return True
        if not length.isdigit():
            return False
        return self.headers.get("transfer-encoding") is None

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's refusals (bad request line, version, headers) as JSON."""
        self.close_connection = True
        self._write(error_bytes(int(code)))

    def _write(self, response: bytes) -> None:
        try:
            self.wfile.write(response)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _cancel_deadline(self) -> None:
        # Kept (not reset to None): a deadline that fired is recognised by identity.
        if self._deadline is not None:
            self._deadline.cancel()


def serve(
    app: Any, host: str, port: int, *, max_connections: int, backlog: int, edge: EdgeSettings
) -> None:
    """Serve ``app`` on host:port until the process stops."""
    listener = eventlet.listen((host, port), backlog=backlog)
    protocol = type("EdgeHttpProtocol", (EdgeHttpProtocol,), {"edge": edge})
    wsgi.server(listener, app, log_output=False, max_size=max_connections, protocol=protocol)
