"""The pooled Redis client of this process, built from the REDIS_* settings.

One client (one connection pool) per process and Redis URL: after a fork the child builds
its own, so a pool is never shared across processes. Clients retry connection errors with
exponential backoff, check idle connections before reuse and wait a bounded time for a
free pooled connection, so they ride out a Redis restart without being rebuilt.

Inside a Flask app context the app's settings are used; outside one (scripts, a worker
before its app exists) the settings come from ``load_config()``, read once per process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask, current_app, has_app_context
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from app.config import load_config

_lock = threading.Lock()
_clients: dict[tuple[Any, ...], redis.Redis] = {}
_process_config: dict[str, Any] | None = None

_POOL_OPTIONS = ("max_connections", "pool_timeout")


def build_redis_client(url: str, **options: Any) -> redis.Redis:
    """A new client with its own blocking pool for ``url`` (redis://, rediss:// or unix://).

    ``max_connections`` and ``pool_timeout`` size the pool (a caller waits up to
    ``pool_timeout`` seconds for a free connection instead of failing at once); every other
    option goes to the connections.
    """
    options.setdefault("decode_responses", False)
    max_connections = options.pop("max_connections", 50)
    pool_timeout = options.pop("pool_timeout", 20.0)
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout, **options
    )
    return redis.Redis.from_pool(pool)


def client_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``build_redis_client`` from the REDIS_* settings."""
    backoff = ExponentialBackoff(
        cap=config["REDIS_RETRY_BACKOFF_CAP"], base=config["REDIS_RETRY_BACKOFF_BASE"]
    )
    return {
        "max_connections": config["REDIS_MAX_CONNECTIONS"],
        "pool_timeout": config["REDIS_POOL_TIMEOUT"],
        "socket_timeout": config["REDIS_SOCKET_TIMEOUT"],
        "socket_connect_timeout": config["REDIS_CONNECT_TIMEOUT"],
        "health_check_interval": config["REDIS_HEALTH_CHECK_INTERVAL"],
        "retry": Retry(backoff, config["REDIS_RETRY_ATTEMPTS"]),
    }


def _client_key(config: Mapping[str, Any]) -> tuple[Any, ...]:
    names = (
        "REDIS_URL",
        "REDIS_MAX_CONNECTIONS",
        "REDIS_POOL_TIMEOUT",
        "REDIS_SOCKET_TIMEOUT",
        "REDIS_CONNECT_TIMEOUT",
        "REDIS_HEALTH_CHECK_INTERVAL",
        "REDIS_RETRY_ATTEMPTS",
        "REDIS_RETRY_BACKOFF_BASE",
        "REDIS_RETRY_BACKOFF_CAP",
    )
    return (os.getpid(), *(config[name] for name in names))


def client_for(config: Mapping[str, Any]) -> redis.Redis:
    """This process's pooled client for the REDIS_* settings in ``config``."""
    key = _client_key(config)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = build_redis_client(config["REDIS_URL"], **client_options(config))
                _clients[key] = client
    return client


def active_config() -> Mapping[str, Any]:
    """The current app's settings, or outside an app context the process's ``load_config()``."""
    if has_app_context():
        return current_app.config
    global _process_config
    if _process_config is None:
        with _lock:
            if _process_config is None:
                _process_config = load_config()
    return _process_config


def get_redis_client(app: Flask | None = None) -> redis.Redis:
    """This process's pooled client for ``app``'s settings (default: ``active_config()``)."""
    return client_for(app.config if app is not None else active_config())
