"""Real clients of a running web process: REST logins and recording Socket.IO clients.

A ``RecordingClient`` keeps every event it receives, in arrival order, with its own
disconnect as the event ``"disconnect"``; tests wait on that record with timeouts, never
by sleeping.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from typing import Any

import engineio
import requests
import socketio
import websocket

from tests.conftest import SignedIn
from tests.e2e.servers import WebServer

WAIT_SECONDS = 10.0
_pings = itertools.count(1)


def login(server: WebServer, username: str, password: str) -> SignedIn:
    response = requests.post(
        f"{server.url}/api/auth/login",
        json={"username": username, "password": password},
        timeout=WAIT_SECONDS,
    )
    assert response.status_code == 200, response.text
    return SignedIn.from_login(response.json())


def realtime_stats(server: WebServer, admin_headers: dict[str, str]) -> dict[str, Any]:
    """GET /api/admin/realtime/stats of ``server`` as an admin."""
    response = requests.get(
        f"{server.url}/api/admin/realtime/stats", headers=admin_headers, timeout=WAIT_SECONDS
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


Predicate = Callable[[Any], bool]


def raw_socket(server: WebServer, token: str | None = None) -> websocket.WebSocket:
    """A bare Engine.IO websocket, to send what no Socket.IO client would; with ``token``
    connected to the namespace (its ``40`` answer read)."""
    ws_url = server.url.replace("http://", "ws://")
    ws = websocket.create_connection(
        f"{ws_url}/socket.io/?EIO=4&transport=websocket", timeout=WAIT_SECONDS
    )
    assert ws.recv().startswith("0")  # Engine.IO open
    if token is not None:
        ws.send("40" + json.dumps({"token": token}))
        while not ws.recv().startswith("40"):  # connection_response may come first
            pass
    return ws


class _InOrderEngineIOClient(engineio.Client):
    def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class InOrderClient(socketio.Client):
    """python-socketio runs the handler of each incoming message in a thread of its own,
    so two events sent in order may be handled out of order. This client handles them
    in its read loop, in arrival order (its handlers must not block)."""

    def _engineio_client_class(self) -> type[engineio.Client]:
        return _InOrderEngineIOClient


class RecordingClient:
    def __init__(self) -> None:
        self.sio = InOrderClient(reconnection=False)
        self.record: list[tuple[str, Any]] = []
        self.disconnected = threading.Event()
        self._changed = threading.Condition()
        self.sio.on("*", self._on_event)
        self.sio.on("connect_error", lambda data=None: self._append("connect_error", data))
        self.sio.on("disconnect", self._on_disconnect)

    def _append(self, name: str, data: Any) -> None:
        with self._changed:
            self.record.append((name, data))
            self._changed.notify_all()

    def _on_event(self, event: str, *args: Any) -> None:
        self._append(event, args[0] if args else None)

    def _on_disconnect(self, *reason: Any) -> None:
        self._append("disconnect", reason[0] if reason else None)
        self.disconnected.set()

    def connect(self, server: WebServer, token: str) -> RecordingClient:
        self.sio.connect(
            server.url, auth={"token": token}, transports=["websocket"], wait_timeout=WAIT_SECONDS
        )
        self.wait_for("connection_response")
        return self

    def call(self, event: str, *args: Any) -> Any:
        """Emit and return the server's acknowledgement."""
        return self.sio.call(event, args[0] if len(args) == 1 else args, timeout=WAIT_SECONDS)

    def payloads(self, event: str, where: Predicate = lambda data: True) -> list[Any]:
        with self._changed:
            return [data for name, data in self.record if name == event and where(data)]

    def names(self) -> list[str]:
        with self._changed:
            return [name for name, _ in self.record]

    def wait_for(
        self, event: str, where: Predicate = lambda data: True, timeout: float = WAIT_SECONDS
    ) -> Any:
        """The first ``event`` whose payload satisfies ``where``, waiting up to ``timeout``."""
        found: list[Any] = []

        def arrived() -> bool:
            found[:] = [data for name, data in self.record if name == event and where(data)]
            return bool(found)

        with self._changed:
            if not self._changed.wait_for(arrived, timeout):
                raise AssertionError(f"no {event!r} within {timeout}s; got {self.names()}")
        return found[0]

    def settle(self) -> None:
        """Return once everything the server sent before now has been recorded: a ping's
        `pong` comes after it on the same connection."""
        stamp = float(next(_pings))
        self.sio.emit("ping", {"client_ts": stamp})
        self.wait_for("pong", lambda data: data["client_ts"] == stamp)

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()
        self.sio.shutdown()
