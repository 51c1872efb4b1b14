"""Socket.IO test clients for the unit tests: connect in-process, read what the server sent.

The handlers run synchronously under Flask-SocketIO's test client (threading mode, no
message queue), so an event's effects are visible as soon as ``emit`` returns.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIO
from flask_socketio.test_client import SocketIOTestClient
from socketio import packet

from app.extensions import socketio
from app.realtime.connections import Connection, registry
from app.realtime.lifecycle import close_connection
from tests.conftest import SignedIn, make_user, sign_in

Received = list[tuple[str, Any]]


def new_account(client: FlaskClient, role: str = "user") -> SignedIn:
    return sign_in(client, make_user(role))


def second_login(client: FlaskClient, account: SignedIn) -> SignedIn:
    """Another login session of the same user."""
    return sign_in(client, account.user)


class SocketClient(SocketIOTestClient):
    """The stock test client, also keeping the payload of a refused connection
    (``connect_error``), which the stock one drops."""

    def __init__(
        self, app: Flask, server: SocketIO, auth: Any, flask_test_client: FlaskClient
    ) -> None:
        self.connect_error: Any = None
        super().__init__(app, server, auth=auth, flask_test_client=flask_test_client)

    def connect(
        self,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
    ) -> None:
        server = self.socketio.server
        deliver = server._send_packet

        def record(eio_sid: str, pkt: packet.Packet) -> None:
            if eio_sid == self.eio_sid and pkt.packet_type == packet.CONNECT_ERROR:
                self.connect_error = pkt.data
            deliver(eio_sid, pkt)

        server._send_packet = record
        try:
            super().connect(namespace, query_string, headers, auth)
        finally:
            server._send_packet = deliver

    @property
    def sid(self) -> str:
        sid = self.socketio.server.manager.sid_from_eio_sid(self.eio_sid, "/")
        assert sid is not None, "not connected"
        return str(sid)

    @property
    def connection(self) -> Connection:
        conn = registry.get(self.sid)
        assert conn is not None, "not in the registry"
        return conn

    def drain(self) -> Received:
        """(event, first argument) of everything received since the last drain; unlike
        ``get_received`` it works after the server disconnected the client too."""
        events = [(item["name"], item["args"][0] if item["args"] else None) for item in self.queue]
        self.queue.clear()
        return events

    def call(self, event: str, *args: Any) -> Any:
        """Emit with an acknowledgement and return the server's ack."""
        return self.emit(event, *args, callback=True)


class Sockets:
    """Opens test clients for one test and closes whatever is left at its end."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self._app = app
        self._client = client
        self._opened: list[SocketClient] = []

    def open(self, token: str | None = None, *, auth: Any = None) -> SocketClient:
        """Connect with ``{"token": token}`` (or the raw ``auth`` given)."""
        auth = {"token": token} if token is not None else auth
        client = SocketClient(self._app, socketio, auth, self._client)
        self._opened.append(client)
        return client

    def close_all(self) -> None:
        for client in self._opened:
            if client.is_connected():
                client.disconnect()
            SocketIOTestClient.clients.pop(client.eio_sid, None)
        # A test that failed half-way must not leave connections to the next one.
        for conn in registry.all():
            close_connection(conn.sid)


def names(received: Received) -> list[str]:
    return [name for name, _ in received]


def payloads(received: Received, event: str) -> list[Any]:
    return [data for name, data in received if name == event]


def telemetry_batch(session_id: str) -> dict[str, Any]:
    """A valid ``behavioral_data`` payload: one keystroke, two mouse movements, one click."""
    return {
        "session_id": session_id,
        "keystrokes": [{"field": "password", "seq": 0, "cls": "letter", "down": 10, "up": 60}],
        "mouseMovements": [{"x": 1, "y": 2, "t": 5}, {"x": 3, "y": 4, "t": 9}],
        "clicks": [{"x": 3, "y": 4, "button": 0, "down": 70, "up": 90}],
    }
