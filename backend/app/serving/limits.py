"""Connection counting per client address, shared by the eventlet and gevent servers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class AddressLimiter:
    """Counts open connections per client address; ``limit`` 0 counts without limiting."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.refused = 0

    def acquire(self, address: str) -> bool:
        """Count a new connection from ``address``; False (and not counted) over the limit."""
        with self._lock:
            if self.limit and self._open[address] >= self.limit:
                self.refused += 1
                return False
            self._open[address] += 1
            return True

    def release(self, address: str) -> None:
        with self._lock:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    def open_from(self, address: str) -> int:
        return self._open.get(address, 0)


@dataclass
class EdgeSettings:
    """What one server process enforces before a request reaches the app."""

    header_timeout: float
    max_per_address: int
    limiter: AddressLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = AddressLimiter(self.max_per_address)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EdgeSettings:
        return cls(
            header_timeout=float(config["HTTP_HEADER_TIMEOUT_SECONDS"]),
            max_per_address=int(config["MAX_CONNECTIONS_PER_ADDRESS"]),
        )


def peer_address(client_address: Any) -> str:
    """The host part of a socket's peer address ((host, port[, …]) or a Unix path)."""
    if isinstance(client_address, tuple) and client_address:
        return str(client_address[0])
    return str(client_address)
