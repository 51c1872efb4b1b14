"""Shared by the cache's unit test modules: the cache on its own logical database of the
embedded Redis, emptied around each test, and waiting on conditions."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
