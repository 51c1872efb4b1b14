"""Pooled Redis client factory from the REDIS_* settings (the seed's `redis_config`).

A thin public entry over ``app.redis_client``, where the factory lives:

    from redis_config import get_redis_client
    client = get_redis_client()        # this process's pooled client (app or load_config())

Settings: REDIS_HOST, REDIS_PORT, REDIS_DB, REDIS_PASSWORD, or REDIS_URL (``rediss://`` for
TLS), plus REDIS_MAX_CONNECTIONS, REDIS_POOL_TIMEOUT_MS, REDIS_SOCKET_TIMEOUT_MS,
REDIS_CONNECT_TIMEOUT_MS, REDIS_HEALTH_CHECK_INTERVAL and REDIS_RETRY_* (see .env.example).
"""

from __future__ import annotations

from app.redis_client import (
    active_config,
    build_redis_client,
    client_for,
    client_options,
    get_redis_client,
)

__all__ = [
    "active_config",
    "build_redis_client",
    "client_for",
    "client_options",
    "get_redis_client",
]
