"""HTTP over raw sockets, for requests no HTTP client would send (malformed, partial,
from a chosen source address) and for watching a server close connections."""

from __future__ import annotations

import json
import select
import socket
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse_response(data: bytes) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)


def connect(port: int, source: str = "127.0.0.1", timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(
        ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
    )


def exchange(port: int, request: bytes, source: str = "127.0.0.1", timeout: float = 10.0) -> bytes:
    """Send ``request`` and return everything the server sends until it closes."""
    with connect(port, source, timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def read_until_closed(
    sockets: list[socket.socket], timeout: float
) -> tuple[dict[int, bytes], set[int]]:
    """Read every socket until the server closes it or ``timeout`` passes: what each one
    received (by file descriptor) and the descriptors still open at the end."""
    poller = select.poll()
    by_fd = {sock.fileno(): sock for sock in sockets}
    for fd in by_fd:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    received = dict.fromkeys(by_fd, b"")
    still_open = set(by_fd)
    deadline = time.monotonic() + timeout
    while still_open and time.monotonic() < deadline:
        for fd, _event in poller.poll(100):
            try:
                chunk = by_fd[fd].recv(65536)
            except (ConnectionResetError, BlockingIOError, TimeoutError):
                chunk = b""
            if chunk:
                received[fd] += chunk
            else:
                poller.unregister(fd)
                still_open.discard(fd)
    return received, still_open
