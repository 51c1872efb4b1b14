"""The pooled Redis client of this process, built from the REDIS_* settings.

One client (one connection pool) per process: after a fork the child builds its own, so a
pool is never shared across processes.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from flask import Flask, current_app

_lock = threading.Lock()
_clients: dict[tuple[int, str], redis.Redis] = {}


def build_redis_client(url: str, **options: Any) -> redis.Redis:
    """A new client with its own pool for ``url`` (redis://, rediss:// or unix://)."""
    options.setdefault("decode_responses", False)
    return redis.Redis.from_url(url, **options)


def client_options(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "max_connections": config["REDIS_MAX_CONNECTIONS"],
        "socket_timeout": config["REDIS_SOCKET_TIMEOUT"],
        "socket_connect_timeout": config["REDIS_CONNECT_TIMEOUT"],
        "health_check_interval": config["REDIS_HEALTH_CHECK_INTERVAL"],
    }


def get_redis_client(app: Flask | None = None) -> redis.Redis:
    """This process's pooled client for the app's REDIS_URL (created on first use)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config["REDIS_URL"]
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = build_redis_client(url, **client_options(app.config))
                _clients[key] = client
    return client
