"""Socket.IO server settings (ARCHITECTURE section 4).

The SocketIO server itself, its events and get_websocket_stats() are built by the
real-time issue; this module already turns the settings into SocketIO's keyword arguments
so that every process configures it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def socketio_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``SocketIO.init_app`` from the app config."""
    return {
        "async_mode": config["SOCKETIO_ASYNC_MODE"],
        "cors_allowed_origins": config["WEBSOCKET_CORS_ALLOWED_ORIGINS"],
        "message_queue": config["SOCKETIO_MESSAGE_QUEUE"],
    }
