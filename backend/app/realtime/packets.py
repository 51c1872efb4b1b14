"""What the server accepts below the event handlers: Socket.IO packets of the contract only.

The contract has no binary events, so a packet announcing binary attachments (or a binary
frame) is refused before python-socketio would buffer its attachments, and its socket
closed. A packet that cannot be decoded is dropped with one log line (rate-limited, so a
client cannot flood the log), counted in the stats' ``errors``, and answered with ``error``
{event: "packet", code: "invalid_payload"} when the socket is connected to the namespace.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import socketio
from socketio import packet

from app.realtime.connections import registry

log = logging.getLogger(__name__)

# Packet types a client may send: the server never asks for a binary ack or sends one.
_CLIENT_PACKET_TYPES = frozenset({packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK})
_BINARY_PACKET_TYPES = frozenset({str(packet.BINARY_EVENT), str(packet.BINARY_ACK)})


class MalformedPacket(ValueError):
    """A client packet that is not a Socket.IO packet of this contract."""


class BinaryRefused(MalformedPacket):
    """A binary frame or a packet announcing binary attachments."""


class ContractPacket(socketio.packet.Packet):
    """Decodes client packets, refusing binary ones before anything is buffered."""

    def __init__(self, *args: Any, encoded_packet: Any = None, **kwargs: Any) -> None:
        if encoded_packet is not None and len(encoded_packet) == 0:
            raise MalformedPacket("empty packet")  # the base class would take it for an event
        super().__init__(*args, encoded_packet=encoded_packet, **kwargs)

    def decode(self, encoded_packet: Any) -> int:
        if not isinstance(encoded_packet, str):
            raise BinaryRefused("binary frames are not part of this API")
        if encoded_packet[:1] in _BINARY_PACKET_TYPES:
            raise BinaryRefused("binary packets are not part of this API")
        try:
            attachments = super().decode(encoded_packet) or 0
        except (ValueError, TypeError, IndexError, KeyError, RecursionError) as exc:
            raise MalformedPacket(f"{type(exc).__name__}: {str(exc)[:80]}") from None
        if self.packet_type not in _CLIENT_PACKET_TYPES:
            raise MalformedPacket(f"packet type {self.packet_type} is not sent by clients")
        if self.packet_type == packet.EVENT and not (isinstance(self.data, list) and self.data):
            # (a name that is not a string is the handlers' to refuse, with an ack)
            raise MalformedPacket("an event packet is a list starting with the event name")
        if self.packet_type == packet.ACK and not isinstance(self.data, list):
            raise MalformedPacket("an ack packet carries a list")
        return attachments


class ThrottledLog:
    """At most ``limit`` lines per ``window`` seconds; the next line after a window that had
    more says how many were left out."""

    def __init__(self, logger: logging.Logger, limit: int, window: float) -> None:
        self._logger = logger
        self._limit = limit
        self._window = window
        self._lock = threading.Lock()
        self._window_start = float("-inf")
        self._logged = 0
        self._suppressed = 0

    def warning(self, message: str, *args: Any, now: float | None = None) -> bool:
        """Log ``message`` unless over the limit; True when it was logged."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if now - self._window_start >= self._window:
                if self._suppressed:
                    self._logger.warning(
                        "%d similar messages left out in the last %.0f s",
                        self._suppressed,
                        self._window,
                    )
                self._window_start, self._logged, self._suppressed = now, 0, 0
            if self._logged >= self._limit:
                self._suppressed += 1
                return False
            self._logged += 1
        self._logger.warning(message, *args)
        return True


bad_packets = ThrottledLog(log, limit=10, window=60.0)


def guard_packets(server: socketio.Server) -> None:
    """Wrap the server's Engine.IO message handler: a refused or malformed packet is
    logged (throttled), counted and answered, and never reaches python-socketio."""
    handle: Callable[[str, Any], Any] = server.eio.handlers["message"]

    def guarded(eio_sid: str, data: Any) -> Any:
        try:
            return handle(eio_sid, data)
        except MalformedPacket as exc:
            _refuse_packet(server, eio_sid, exc)
            return None

    server.eio.on("message", guarded)


def _refuse_packet(server: socketio.Server, eio_sid: str, exc: MalformedPacket) -> None:
    registry.counters["errors"] += 1
    sid = server.manager.sid_from_eio_sid(eio_sid, "/")
    bad_packets.warning(
        "refused a packet from %s (%s): %s",
        eio_sid,
        "authenticated" if sid else "not authenticated",
        exc,
    )
    if sid is not None:
        server.emit(
            "error",
            {"event": "packet", "code": "invalid_payload", "message": str(exc)},
            to=sid,
            ignore_queue=True,  # this process's socket: before the close below, not after
        )
    if isinstance(exc, BinaryRefused):
        server.eio.disconnect(eio_sid)
