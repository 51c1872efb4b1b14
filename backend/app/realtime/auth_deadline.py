"""Close Engine.IO transports that do not authenticate in time.

A websocket or long-polling transport costs the server a socket and a session before its
client has proved anything; the Socket.IO connect with a valid token is that proof
(lifecycle.open_connection). A transport whose Socket.IO connect to ``/`` has not been
accepted within WS_AUTH_TIMEOUT_SECONDS of its Engine.IO handshake is closed. Until then it
is *pending*: counted in the stats (``unauthenticated_transports``), as are those closed
for it (``auth_timeouts``).

Hooked in at the Engine.IO level (its connect, message and disconnect events, wrapped on
the Socket.IO server), so nothing in the Socket.IO handlers changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
NAMESPACE = "/"
SWEEP_INTERVAL_SECONDS = 0.5


class AuthDeadline:
    """The pending transports of this process, oldest first (one timeout for all, so the
    order of arrival is the order of the deadlines)."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._server: Any = None
        self._sweeping = False
        self.timeout = 0.0
        self.closed = 0

    def pending(self) -> int:
        return len(self._pending)

    def install(self, server: Any, timeout: float) -> None:
        """Watch ``server`` (a python-socketio Server): wrap its Engine.IO event handlers."""
        self._server, self.timeout = server, timeout
        with self._lock:
            self._pending.clear()
        self._sweeping = False
        eio = server.eio
        eio.on("connect", self._on_connect(eio.handlers["connect"]))
        eio.on("message", self._on_message(eio.handlers["message"]))
        eio.on("disconnect", self._on_disconnect(eio.handlers["disconnect"]))

    def _on_connect(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
            result = handler(eio_sid, environ)
            if result is not False:
                with self._lock:
                    self._pending[eio_sid] = time.monotonic() + self.timeout
                self._start_sweeping()
            return result

        return connect

    def _on_message(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        def message(eio_sid: str, data: Any) -> Any:
            try:
                return handler(eio_sid, data)
            finally:
                if eio_sid in self._pending and self._authenticated(eio_sid):
                    self._forget(eio_sid)

        return message

    def _on_disconnect(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        def disconnect(eio_sid: str, *reason: Any) -> Any:
            self._forget(eio_sid)
            return handler(eio_sid, *reason)

        return disconnect

    def _authenticated(self, eio_sid: str) -> bool:
        return self._server.manager.sid_from_eio_sid(eio_sid, NAMESPACE) is not None

    def _forget(self, eio_sid: str) -> None:
        with self._lock:
            self._pending.pop(eio_sid, None)

    def expired(self, now: float) -> list[str]:
        """Remove and return the pending transports whose deadline has passed."""
        due = []
        with self._lock:
            while self._pending:
                eio_sid, deadline = next(iter(self._pending.items()))
                if deadline > now:
                    break
                del self._pending[eio_sid]
                due.append(eio_sid)
        return due

    def sweep(self, now: float | None = None) -> int:
        """Close the transports past their deadline that are still unauthenticated."""
        closed = 0
        for eio_sid in self.expired(time.monotonic() if now is None else now):
            if self._authenticated(eio_sid):
                continue
            # In a task of its own: closing a long-polling transport waits for its client to
            # fetch the close packet, which a silent client never does.
            self._server.start_background_task(self._server.eio.disconnect, eio_sid)
            closed += 1
        self.closed += closed
        return closed

    def _start_sweeping(self) -> None:
        if self._sweeping:
            return
        self._sweeping = True
        server = self._server

        def loop() -> None:
            while server is self._server:
                server.sleep(SWEEP_INTERVAL_SECONDS)
                try:
                    self.sweep()
                except Exception:
                    log.exception("closing unauthenticated transports failed; retrying")

        server.start_background_task(loop)


auth_deadline = AuthDeadline()
