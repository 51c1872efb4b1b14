"""Attaching the Socket.IO server to the app, and its statistics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
import socketio as python_socketio
from flask import Flask

from app.extensions import socketio
from app.realtime.auth_deadline import auth_deadline
from app.realtime.lifecycle import local_stats, presence
from app.realtime.packets import ContractPacket, guard_packets

_handlers_registered = False


class OriginPolicy:
    """Browsers may connect from the configured origins only (WEBSOCKET_CORS_ALLOWED_ORIGINS,
    whose default holds the dashboard's own origin on PORT).

    Never from "this server's own origin" as the request's Host header names it: a page on
    any site can reach the server under a name of its own choosing (DNS rebinding, a proxy
    passing Host through), so Host is the client's word, not the server's.
    """

    def __init__(self, allowed: list[str]) -> None:
        self.allowed = frozenset(origin.rstrip("/").lower() for origin in allowed)

    def __call__(self, origin: str | None, environ: Mapping[str, Any]) -> bool:
        if origin is None:
            return True  # not a browser: no CORS to enforce; the token still decides
        return "*" in self.allowed or origin.rstrip("/").lower() in self.allowed


QUEUE_POOL_TIMEOUT_SECONDS = 20.0


class RedisQueueManager(python_socketio.RedisManager):
    """The Socket.IO Redis queue of a web process, on a bounded pool that waits when busy.

    python-socketio's RedisManager publishes through redis-py's default pool, which (redis-py
    8) holds at most 100 connections and fails at once beyond that. Every disconnect, and
    every emit, is a publish made by the greenlet handling it, so a burst of more than 100
    concurrent connects or disconnects failed publishes with "Too many connections"; the
    manager then rebuilt its client, closing the pool under its own listener, which dropped
    out for a retry delay (events from other processes meanwhile lost). Here publishers wait
    up to QUEUE_POOL_TIMEOUT_SECONDS for a pooled connection instead (found by
    bench/ws_load.py).
    """

    def __init__(self, url: str, max_connections: int, channel: str) -> None:
        super().__init__(url, channel=channel)
        self._max_connections = max_connections

    def _redis_connect(self) -> None:
        # The listener's subscription holds one pooled connection for good.
        pool = redis.BlockingConnectionPool.from_url(
            self.redis_url,
            max_connections=self._max_connections + 1,
            timeout=QUEUE_POOL_TIMEOUT_SECONDS,
        )
        self.redis = redis.Redis.from_pool(pool)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True


def socketio_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``SocketIO.init_app`` from the app config."""
    options = {
        "async_mode": config["SOCKETIO_ASYNC_MODE"],
        "cors_allowed_origins": OriginPolicy(config["WEBSOCKET_CORS_ALLOWED_ORIGINS"]),
        "message_queue": config["SOCKETIO_MESSAGE_QUEUE"],
        "ping_interval": config["SOCKETIO_PING_INTERVAL"],
        "ping_timeout": config["SOCKETIO_PING_TIMEOUT"],
        "max_http_buffer_size": config["SOCKETIO_MAX_PAYLOAD_BYTES"],
        "serializer": ContractPacket,
    }
    queue = config["SOCKETIO_MESSAGE_QUEUE"]
    if queue and queue.startswith(("redis://", "rediss://", "unix://")):
        options["client_manager"] = RedisQueueManager(
            queue, config["REDIS_MAX_CONNECTIONS"], config["SOCKETIO_CHANNEL"]
        )
    return options


def init_realtime(app: Flask) -> None:
    """Serve Socket.IO from this app (the web process); other processes only emit."""
    global _handlers_registered
    if not app.config["REALTIME_SERVER"]:
        return
    if not _handlers_registered:
        from app.realtime.handlers import register_handlers

        register_handlers(socketio)
        _handlers_registered = True
    socketio.init_app(app, **socketio_options(app.config))
    auth_deadline.install(socketio.server, app.config["WS_AUTH_TIMEOUT_SECONDS"])
    guard_packets(socketio.server)


def get_websocket_stats() -> dict[str, Any]:
    """Stats of this process (seed keys total_connections, unique_users) and the cluster.

    Needs an app context. Cluster figures come from every live process's presence entries
    and heartbeat snapshots in Redis; ``cluster`` is None when Redis is unreachable.
    """
    stats = local_stats()
    try:
        stats["cluster"] = presence().cluster()
    except Exception as exc:
        stats["cluster"] = None
        stats["cluster_error"] = f"{type(exc).__name__}: {exc}"
    return stats
