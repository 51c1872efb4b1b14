"""CacheService's get_or_compute (locking, waiting, stampedes) and its behaviour when Redis
is unreachable or the caller has no app context, on the embedded fakeredis server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fakeredis import TcpFakeServer
from flask import Flask

from app.redis_client import client_for
from app.services.cache_service import CacheService, cache_service
from app.standalone.children import ChildProcess
from tests.conftest import test_config
from tests.procs import free_port, wait_for
from tests.unit.cache_support import CACHE_DB, cache_config, emptied_cache


@pytest.fixture
def base_config(base_config: dict[str, Any], embedded_redis: ChildProcess) -> dict[str, Any]:
    return cache_config(base_config, embedded_redis)


@pytest.fixture
def raw(app: Flask) -> Iterator[redis.Redis]:
    yield from emptied_cache(app)


def test_get_or_compute_computes_once_then_hits(raw: redis.Redis) -> None:
    calls: list[int] = []

    def compute() -> dict[str, int]:
        calls.append(1)
        return {"score": 7}

    assert cache_service.get_or_compute("context", "r", compute) == {"score": 7}
    assert cache_service.get_or_compute("context", "r", compute) == {"score": 7}
    assert len(calls) == 1
    assert raw.ttl("zt:v1:context:r") == 300
    assert not raw.exists("zt:v1:lock:context:r")


def test_get_or_compute_indexes_for_the_user(raw: redis.Redis) -> None:
    cache_service.get_or_compute("session", "s", lambda: {"a": 1}, user_id=4)
    assert cache_service.invalidate_user(4) == 1


def test_get_or_compute_does_not_cache_none(raw: redis.Redis) -> None:
    assert cache_service.get_or_compute("threat", "k", lambda: None) is None
    assert raw.dbsize() == 0


def test_get_or_compute_releases_the_lock_when_compute_fails(raw: redis.Redis) -> None:
    def fail() -> Any:
        raise RuntimeError("model store down")

    with pytest.raises(RuntimeError, match="model store down"):
        cache_service.get_or_compute("model", 1, fail)
    assert raw.dbsize() == 0
    assert cache_service.get_or_compute("model", 1, lambda: {"m": 1}) == {"m": 1}


def test_a_dead_lock_holder_is_taken_over(raw: redis.Redis) -> None:
    raw.set("zt:v1:lock:model:1", "dead-holder", px=150)
    assert cache_service.get_or_compute("model", 1, lambda: {"m": 2}) == {"m": 2}
    assert raw.get("zt:v1:lock:model:1") is None


def test_waiting_is_bounded(app: Flask, raw: redis.Redis) -> None:
    app.config["CACHE_LOCK_WAIT"] = 0.05
    raw.set("zt:v1:lock:model:1", "slow-holder", px=60_000)
    assert cache_service.get_or_compute("model", 1, lambda: {"m": 3}) == {"m": 3}
    assert raw.get("zt:v1:lock:model:1") == b"slow-holder"


def test_concurrent_callers_compute_once(raw: redis.Redis, app: Flask) -> None:
    callers, calls, results = 20, [], []
    start = threading.Barrier(callers)

    def compute() -> dict[str, str]:
        calls.append(1)
        # Hold the lock until every caller has missed, so all of them contend for it.
        wait_for(
            lambda: cache_service.get_cache_stats()["per_type"]["model"]["misses"] >= callers,
            10,
            "every caller to miss",
        )
        return {"m": "once"}

    def caller() -> None:
        with app.app_context():
            start.wait()
            results.append(cache_service.get_or_compute("model", 77, compute))

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(calls) == 1
    assert results == [{"m": "once"}] * callers


def test_outside_an_app_context_settings_come_from_the_environment(
    embedded_redis: ChildProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import redis_client

    monkeypatch.setenv("REDIS_URL", f"{embedded_redis.url}/{CACHE_DB + 1}")
    monkeypatch.setenv("CACHE_TTL_BEHAVIORAL_MODEL", "77")
    monkeypatch.setattr(redis_client, "_process_config", None)
    service = CacheService()
    raw = redis.Redis.from_url(f"{embedded_redis.url}/{CACHE_DB + 1}")
    try:
        assert service.cache_behavioral_model(5, {"m": 5}) is True
        assert service.get_behavioral_model(5) == {"m": 5}
        assert raw.ttl("zt:v1:model:5") == 77
    finally:
        raw.flushdb()
        raw.close()


class _Stopped:
    """A fakeredis TCP server that can be started (again) on a fixed port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: TcpFakeServer | None = None

    def start(self) -> None:
        self.server = TcpFakeServer(("127.0.0.1", self.port))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def test_redis_down_is_a_miss_and_service_resumes(caplog: pytest.LogCaptureFixture) -> None:
    server = _Stopped(free_port())
    config = test_config(REDIS_URL=f"redis://127.0.0.1:{server.port}/0", CACHE_OUTAGE_RETRY=0.05)
    service = CacheService(config)
    caplog.set_level(logging.INFO, logger="app.services.cache_backend")
    try:
        for _ in range(50):
            assert service.get_behavioral_model(1) is None
            assert service.cache_behavioral_model(1, {"m": 1}) is False
        assert service.get_many("model", [1, 2]) == {}
        assert service.set_many("session", {"a": 1, "b": 2}, user_id=1) is False
        assert service.delete("model", 1) is False
        assert service.invalidate_user(1) == 0
        assert service.invalidate_type("model") == 0
        assert service.cleanup_indexes()["redis_available"] is False
        assert service.get_or_compute("model", 1, lambda: {"m": 2}) == {"m": 2}
        stats = service.get_cache_stats()
        assert stats["connected"] is False
        assert stats["total_keys"] is None and stats["used_memory"] is None
        assert stats["outage_since"] is not None
        assert stats["dropped_writes"] >= 53
        logged = [r for r in caplog.records if r.name == "app.services.cache_backend"]
        warnings = [r for r in logged if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "unavailable" in warnings[0].getMessage()

        client = client_for(config)
        server.start()
        wait_for(lambda: service.cache_behavioral_model(1, {"m": 3}), 10, "a write to succeed")
        assert service.get_behavioral_model(1) == {"m": 3}
        assert client_for(config) is client
        assert service.get_cache_stats()["outages"] == 1
        recovered = [r for r in caplog.records if r.name == "app.services.cache_backend"][1:]
        assert [r.levelno for r in recovered] == [logging.INFO]
        assert "reachable again" in recovered[0].getMessage()
    finally:
        server.stop()
