"""Shared by the cache's unit test modules: the cache on its own logical database of the
embedded Redis, emptied around each test, and waiting on conditions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from flask import Flask

from app.services.cache_service import cache_service
from app.standalone.children import ChildProcess

CACHE_DB = 4


def cache_config(base_config: dict[str, Any], embedded_redis: ChildProcess) -> dict[str, Any]:
    """The unit config with the cache on its own logical database of the embedded server."""
    return {**base_config, "REDIS_URL": f"{embedded_redis.url}/{CACHE_DB}"}


def emptied_cache(app: Flask) -> Iterator[redis.Redis]:
    """Direct access to the cache's database, emptied (and the counters zeroed) around a test."""
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    client.flushdb()
    cache_service.reset_stats()
    yield client
    client.flushdb()
    client.close()
